"""Issue invoices: rate what the marts hold, hold what a blocking finding touches, number
the rest gap-free, bill the differences of re-rated cycles, and persist, all in one
transaction under one lock. Issued invoices never change; re-running any day finds every
invoice key already numbered and writes nothing.

A run reads and rates only the open cycles (billing/open_cycles.py): those becoming due, held
ones, and issued ones whose records changed or whose difference waits to be billed; so a day
costs what that day opened, not the whole history. `scope="full"` reads everything (what the
first run, and a run after contracts or tax changed, does)."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from datetime import date

import psycopg2.extensions

from billing import open_cycles, store
from billing.adjustments import adjustment_lines, credit_note, find_originals, place_adjustments, with_taxes
from billing.holds import holds_for, with_candidate_contracts
from billing.ledger import apply_credit
from billing.rating import DraftInvoice, RatingInputs, draft_invoices
from billing.rating.invoices import build_context
from billing.rating.taxes import parse_tax_rows
from vigil.clock import Seconds

VOID_REASON = "nothing left to bill for this cycle (its records were excluded or re-rated away) before it was issued"


class InvoiceTotalsError(RuntimeError):
    """Totals that are not the sum of their rounded lines: nothing of the run is committed."""


@dataclass
class IssueSummary:
    issued: list[str] = field(default_factory=list)
    held: int = 0
    released: list[str] = field(default_factory=list)
    unchanged: int = 0
    voided: int = 0
    adjusted: list[str] = field(default_factory=list)  # originals whose difference went onto a new invoice
    credit_notes: list[str] = field(default_factory=list)
    seconds: dict[str, Seconds] = field(default_factory=dict)  # load, rating, persist: where the time went
    cycles: int = -1  # (client, cycle) pairs read; -1: every cycle


def issue_invoices(conn: psycopg2.extensions.connection, through: date, scope: str = "open") -> IssueSummary:
    """Persist every invoice whose issue date is on or before `through`.

    Numbers go in the order (issue date, client id, kind, site id), so rebuilding from the
    same inputs gives the same numbers; a held invoice released now is issued on `through`."""
    summary = IssueSummary()
    with conn, conn.cursor() as cur:
        # One issuer at a time, and everything read after the lock: a second run sees the first's invoices.
        cur.execute("select pg_advisory_xact_lock(hashtext('vigil.issue_invoices'))")
        started = time.perf_counter()
        seen = open_cycles.state(cur)
        dimensions = store.load_dimensions(conn)
        plan = None
        if scope == "open":
            plan = open_cycles.plan(cur, build_context(RatingInputs(**dimensions, shifts=None, incidents=None,
                                                                    patrols=None, devices=None)), through, seen)
        units = frozenset(plan.units) if plan is not None else None
        inputs = store.load_rating_inputs(conn, dimensions, units, plan.windows() if plan is not None else None)
        loaded = time.perf_counter()
        drafts = draft_invoices(inputs, through)
        rated = time.perf_counter()
        summary.seconds.update(load=loaded - started, rating=rated - loaded)
        summary.cycles = len(units) if units is not None else -1
        findings = with_candidate_contracts(store.open_blocking_findings(conn), inputs.contracts)
        existing = store.existing_invoices(cur)
        touched: list[int] = []
        to_number: list[tuple[date, DraftInvoice, date, int | None]] = []
        for draft in drafts:
            holds = holds_for(draft, findings)
            known = existing.get(draft.key)
            if known is not None and known[2] is not None:
                summary.unchanged += 1
                continue
            invoice_id = known[0] if known is not None else None
            if holds:
                summary.held += 1
                touched.append(store.save_held(cur, draft, holds, invoice_id))
                continue
            if invoice_id is None:
                to_number.append((draft.issue_date, draft, draft.due_date, None))
            else:
                # Released (held, or voided before it had a number): issued today with the next number.
                terms = draft.due_date - draft.issue_date
                due = max(draft.due_date, through) if draft.kind == "advance" else through + terms
                to_number.append((through, draft, due, invoice_id))
        summary.voided = _void_orphaned_holds(cur, {d.key for d in drafts}, through)
        to_number.sort(key=lambda t: (t[0], t[1].client_id, t[1].kind, t[1].site_id or "", t[1].key))

        tax_rows = parse_tax_rows(inputs.tax_rates)
        compared = [r for r in store.issued_records(cur, units) if r.issue_date <= through]
        originals = find_originals(compared, drafts, findings, through)
        onto, credits = place_adjustments(originals, to_number)
        store.set_pending(cur, {r.invoice_id for r in compared},
                          _unsettled(compared, drafts, findings, originals, onto, credits), through)
        for issue_date, draft, due_date, invoice_id in to_number:
            carried = onto.get(draft.key, [])
            if carried:
                draft = with_taxes(draft, adjustment_lines(carried), tax_rows)
            number = store.next_number(cur, "INV", issue_date.year)
            new_id = store.save_issued(cur, draft, number, issue_date, due_date, invoice_id)
            touched.append(new_id)
            (summary.issued if invoice_id is None else summary.released).append(number)
            line_no = 1 + sum(1 for ln in draft.lines if ln.category not in ("tax", "adjustment"))
            for orig in carried:
                store.record_adjustments(cur, orig, new_id, line_no)
                line_no += len(orig.deltas)
                summary.adjusted.append(orig.number)
        for orig in credits:
            note = credit_note(orig, tax_rows, through)
            number = store.next_number(cur, "CN", through.year)
            note_id = store.save_issued(cur, note, number, through, through, None, credit_for=orig.number)
            touched.append(note_id)
            store.record_adjustments(cur, orig, note_id, 1)
            apply_credit(cur, client_id=orig.client_id, currency=orig.currency, credit=-note.total, reference=number,
                         on=through, first_invoice_id=orig.invoice_id)
            summary.credit_notes.append(number)
        mismatched = store.totals_mismatches(cur, touched)
        if mismatched:
            raise InvoiceTotalsError(f"totals differ from the sum of their lines: {', '.join(mismatched[:10])}")
        store.record_issue_run(cur, through, "open" if plan is not None else "full", seen,
                               len(units) if units is not None else -1)
        summary.seconds["persist"] = time.perf_counter() - rated
    return summary


def _unsettled(compared, drafts, findings, originals, onto, credits) -> set[int]:
    """Issued invoices whose difference is not billed by this run: held by an open blocking
    finding, or an increase with no invoice of the client to carry it yet."""
    by_key = {d.key: d for d in drafts}
    held = {r.invoice_id for r in compared if r.key in by_key and holds_for(by_key[r.key], findings)}
    placed = {orig.invoice_id for carried in onto.values() for orig in carried} | {orig.invoice_id for orig in credits}
    return held | ({orig.invoice_id for orig in originals} - placed)


def _void_orphaned_holds(cur, drafted: set[str], through: date) -> int:
    """A held invoice whose draft is gone (e.g. its only shift was resolved `excluded`) would
    otherwise stay held forever with a stale total: void it, saying why."""
    cur.execute(
        """select invoice_key, invoice_id from billing.invoices
           where status = 'held' and invoice_number is null and issue_date <= %s""",
        (through,),
    )
    voided = 0
    for key, invoice_id in cur.fetchall():
        if key not in drafted:
            store.void_unnumbered(cur, invoice_id, VOID_REASON)
            voided += 1
    return voided
