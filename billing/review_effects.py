"""What resolving findings will do to invoices, shown before finance confirms (issue 12):
for each held invoice the findings hold or whose lines cite their records, whether the next
run releases it (no open blocking finding left) and its total then; for `excluded`, the
issued invoices whose lines billed the records (the next run bills the difference).

Totals come from a dry run of the rating engine on the marts as they are, with the
exclusions the resolution adds, so they are what the next run will bill, unless new data
arrives first. A `billed_as_is` on a `duplicate_record` switches the marts to the first
version on the next dbt build: that total is not known before it."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from billing import store
from billing.rating import draft_invoices


@dataclass(frozen=True)
class HeldInvoiceEffect:
    invoice_id: int
    invoice_key: str
    client_id: str
    site_id: str | None
    period_start: date
    period_end: date
    currency: str
    total_now: Decimal
    holding_now: tuple[str, ...]
    holding_after: tuple[str, ...]
    total_after: Decimal | None
    voided: bool

    @property
    def released(self) -> bool:
        return not self.holding_after and not self.voided


@dataclass(frozen=True)
class IssuedInvoiceEffect:
    invoice_number: str
    client_id: str
    refs: tuple[str, ...]


@dataclass(frozen=True)
class ReviewPreview:
    outcome: str
    finding_ids: tuple[str, ...]
    held: list[HeldInvoiceEffect]
    issued: list[IssuedInvoiceEffect]
    notes: list[str]


def _selected(conn, finding_ids: list[str]) -> list[dict]:
    return store.rows(conn, """select finding_id, type, severity, evidence from marts.fct_findings
                               where finding_id = any(%s)""", (finding_ids,))


def _open_blocking(conn) -> set[str]:
    return {row["finding_id"] for row in store.open_blocking_findings(conn)}


def preview(conn, finding_ids: list[str], outcome: str, today: date) -> ReviewPreview:
    selected = _selected(conn, finding_ids)
    chosen = {f["finding_id"] for f in selected}
    refs = sorted({ref for f in selected for ref in f["evidence"] or []})
    held_rows = store.rows(
        conn,
        """select i.invoice_id, i.invoice_key, i.client_id, i.site_id, i.period_start, i.period_end, i.issue_date,
                  i.currency, i.total, i.hold_reasons
           from billing.invoices i
           where i.status = 'held'
             and (exists (select 1 from jsonb_array_elements(i.hold_reasons) reason
                          where reason ->> 'finding_id' = any(%(ids)s))
                  or exists (select 1 from billing.invoice_lines l
                             where l.invoice_id = i.invoice_id and l.source_refs && %(refs)s::text[]))
           order by i.invoice_id""",
        {"ids": list(chosen), "refs": refs},
    )
    notes = []
    drafts = {}
    duplicates_first = outcome == "billed_as_is" and any(f["type"] == "duplicate_record" for f in selected)
    if duplicates_first:
        notes.append("billed_as_is on a duplicate record bills its first version: the marts switch to it on the "
                     "next run's dbt build, so the new total is known only then.")
    if held_rows:
        inputs = store.load_rating_inputs(conn)
        if outcome == "excluded":
            inputs = dataclasses.replace(inputs, excluded_refs=inputs.excluded_refs | frozenset(refs))
        through = max([today, *(row["issue_date"] for row in held_rows)])
        drafts = {draft.key: draft for draft in draft_invoices(inputs, through)}
    open_blocking = _open_blocking(conn)
    held = []
    for row in held_rows:
        holding = tuple(sorted({r["finding_id"] for r in row["hold_reasons"] or []} & open_blocking))
        draft = drafts.get(row["invoice_key"])
        held.append(HeldInvoiceEffect(
            invoice_id=row["invoice_id"], invoice_key=row["invoice_key"], client_id=row["client_id"],
            site_id=row["site_id"], period_start=row["period_start"], period_end=row["period_end"],
            currency=row["currency"], total_now=row["total"], holding_now=holding,
            holding_after=tuple(finding_id for finding_id in holding if finding_id not in chosen),
            total_after=None if duplicates_first or draft is None else draft.total,
            voided=draft is None,
        ))
    issued = []
    if outcome == "excluded" and refs:
        for row in store.rows(
            conn,
            """select i.invoice_number, i.client_id, array_agg(distinct ref order by ref) as refs
               from billing.invoices i join billing.invoice_lines l using (invoice_id)
               cross join lateral unnest(l.source_refs) as ref
               where i.invoice_number is not null and ref = any(%s)
               group by i.invoice_number, i.client_id order by i.invoice_number""",
            (refs,),
        ):
            issued.append(IssuedInvoiceEffect(row["invoice_number"], row["client_id"], tuple(row["refs"])))
        if issued:
            notes.append("records already billed on an issued invoice are credited by the next run: the "
                         "difference goes onto the client's next invoice, or a credit note.")
    if not held and not issued:
        notes.append("no invoice is held by these findings or bills their records differently: "
                     "the resolution only closes them.")
    return ReviewPreview(outcome, tuple(sorted(chosen)), held, issued, notes)
