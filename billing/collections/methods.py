"""The payment method in force for a client on a business day (collections.md section 4):
the contract file's `payment_method`, or one the client set in the portal, whichever
became effective last. A method first seen in the contract file has always been in force;
a changed one (or its removal) is effective from the first day a run sees it, a portal one
from the day it was set. Auto-pay needs `autopay: true` and a method in force."""

from __future__ import annotations

from datetime import date

ALWAYS = date(1, 1, 1)


def sync_contract_methods(cur, day: date) -> int:
    """Record the contract files' methods that differ from the last one recorded for the
    client; returns how many changed."""
    cur.execute(
        """insert into billing.payment_methods (client_id, payment_method, source, effective_on)
           select c.client_id, c.payment_method, 'contract',
                  case when last.client_id is null then %s::date else %s::date end
           from marts.dim_clients c
           left join lateral (select client_id, payment_method from billing.payment_methods m
                              where m.client_id = c.client_id and m.source = 'contract'
                              order by m.effective_on desc, m.payment_method_id desc limit 1) last on true
           where (last.client_id is null and c.payment_method is not null)
              or (last.client_id is not null and last.payment_method is distinct from c.payment_method)""",
        (ALWAYS, day),
    )
    return cur.rowcount


def set_from_portal(cur, client_id: str, payment_method: str, day: date) -> None:
    cur.execute("""insert into billing.payment_methods (client_id, payment_method, source, effective_on)
                   values (%s, %s, 'portal', %s)""", (client_id, payment_method, day))


IN_FORCE_SQL = """
    select distinct on (client_id) client_id, payment_method, source, effective_on
    from billing.payment_methods
    where effective_on <= %(day)s
    order by client_id, effective_on desc, payment_method_id desc
"""


def methods_in_force(cur, day: date) -> dict[str, str | None]:
    """client -> the payment method in force on `day`."""
    with cur.connection.cursor() as plain:
        plain.execute(IN_FORCE_SQL, {"day": day})
        return {client_id: method for client_id, method, _, _ in plain.fetchall()}
