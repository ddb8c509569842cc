"""A client's answer to a renewal offer, and the renewal it creates (collections.md section 7).

One function for everyone who decides: the portal's offer page, the demo acting as a
client, and the daily run renewing an auto-renew contract nobody declined. A decision is
dated by the business clock (the caller passes its `today`), is taken at most once, and
only while the offer is open: from the offer day through the contract's last day.

Acceptance creates the new contract version `<id>-R1` (a renewal of `<id>-R1` is
`<id>-R2`), from the day after the contract's end, with the terms of the chosen option as
offered, and its origin (who decided, when, which option); it is stored as a contract
document of source `renewals` in the same transaction (store.write_renewal_document). The
messages it causes (renewal_confirmation, renewal_declined) belong to the decision's day
and go out with that day's run, like every other message."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime

from billing.renewals import store
from billing.renewals.timeline import Term

ACTIONS = ("accept", "decline")


class DecisionRefused(Exception):
    """Nothing was recorded: the reason says why (shown to the client)."""


@dataclass(frozen=True)
class Outcome:
    contract_id: str
    decision: str  # accepted | declined | auto_renewed
    decided_on: date
    option: str | None = None
    new_contract_id: str | None = None
    start_date: date | None = None
    end_date: date | None = None


def new_contract(renewal: dict, option_name: str, *, decision: str, decided_by: str, day: date) -> dict:
    """The renewed contract object: the option's terms as offered, its dates, its origin."""
    option = next(o for o in renewal["offer"]["options"] if o["name"] == option_name)
    start, end = Term.from_dict(option["term"]).period_after(renewal["end_date"])
    origin = {"decision": decision, "option": option_name, "decided_by": decided_by, "decided_on": day.isoformat(),
              "decided_at": datetime.now(UTC).replace(microsecond=0).isoformat(), "offered_on":
              renewal["offered_on"].isoformat()}
    return {"id": f"{renewal['root_contract_id']}-R{renewal['generation']}", "start_date": start.isoformat(),
            "end_date": end.isoformat(), **option["terms"], "renewal_of": renewal["contract_id"], "origin": origin}


def lock_client(cur, client_id: str) -> None:
    """One renewal document writer per client at a time, so each rebuild sees the last one."""
    cur.execute("select pg_advisory_xact_lock(hashtext(%s))", (f"vigil.renewals:{client_id}",))


def renew(cur, renewal: dict, option_name: str, *, decision: str, decided_by: str, day: date) -> Outcome:
    """Record an acceptance (or an auto-renewal) and write the client's renewal document."""
    terms = new_contract(renewal, option_name, decision=decision, decided_by=decided_by, day=day)
    store.record_decision(cur, renewal["contract_id"], decision=decision, day=day, decided_by=decided_by,
                          option=option_name, new_contract_id=terms["id"], new_terms=terms)
    store.write_renewal_document(cur, renewal["client_id"])
    return Outcome(renewal["contract_id"], decision, day, option_name, terms["id"],
                   date.fromisoformat(terms["start_date"]), date.fromisoformat(terms["end_date"]))


def decide(conn, *, contract_id: str, client_id: str, action: str, option: str | None, decided_by: str,
           today: date) -> Outcome:
    """Accept (with an option) or decline the renewal of `contract_id` for `client_id` on
    business day `today`; DecisionRefused when that is not possible, recording nothing."""
    if action not in ACTIONS:
        raise DecisionRefused(f"unknown answer {action!r}")
    decided_by = " ".join((decided_by or "").split())[:200]
    if not decided_by:
        raise DecisionRefused("please give your name: the decision is recorded with it")
    with conn, conn.cursor() as cur:
        lock_client(cur, client_id)
        found = store.renewals(conn, for_update=True, contract_id=contract_id).get(contract_id)
        if found is None or found["client_id"] != client_id:
            raise DecisionRefused("there is no renewal offer for this contract")
        if found["decision"] is not None:
            raise DecisionRefused(f"this renewal was already {found['decision'].replace('_', ' ')} "
                                  f"on {found['decided_on']}")
        if today < found["offered_on"]:
            raise DecisionRefused(f"the offer is dated {found['offered_on']}, after today ({today})")
        if today > found["end_date"]:
            raise DecisionRefused(f"the offer closed with the contract's last day, {found['end_date']}")
        if action == "decline":
            store.record_decision(cur, contract_id, decision="declined", day=today, decided_by=decided_by)
            return Outcome(contract_id, "declined", today)
        offered = [o["name"] for o in found["offer"]["options"]]
        if option not in offered:
            raise DecisionRefused(f"choose one of the options offered: {', '.join(offered)}")
        return renew(cur, found, option, decision="accepted", decided_by=decided_by, day=today)
