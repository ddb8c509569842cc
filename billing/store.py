"""Issue invoices: rate what the marts hold, hold what a blocking finding touches, number
the rest gap-free, and persist. Issued invoices never change; re-running any day finds
every invoice key already present and writes nothing."""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal

import polars as pl
import psycopg2.extensions
import psycopg2.extras

from billing.rating import DraftInvoice, RatingInputs, draft_invoices
from billing.rating.model import DraftLine
from billing.rating.money import fmt, price
from billing.rating.taxes import compute_taxes, parse_tax_rows, tax_explanation

_FACTS = {
    "shifts": "fct_guard_shifts",
    "incidents": "fct_incident_responses",
    "patrols": "fct_patrol_tours",
    "devices": "fct_devices",
}


def _rows(conn, sql: str, params=()) -> list[dict]:
    with conn.cursor(cursor_factory=psycopg2.extras.RealDictCursor) as cur:
        cur.execute(sql, params)
        return [dict(r) for r in cur.fetchall()]


def _frame(conn, table: str) -> pl.DataFrame:
    """A mart as a polars frame; timestamptz columns come back UTC-aware."""
    with conn.cursor() as cur:
        cur.execute("set local timezone = 'UTC'")
        cur.execute(f"select * from marts.{table}")
        columns = [d.name for d in cur.description]
        data = cur.fetchall()
    return pl.DataFrame(data, schema=columns, orient="row", infer_schema_length=None)


def load_rating_inputs(conn: psycopg2.extensions.connection) -> RatingInputs:
    """What the rating engine needs. A record whose finding finance closed as `excluded` is
    left out of billing (its refs go to `excluded_refs`); `billed_as_is` and `corrected` need
    nothing here: the marts already carry the version to bill (billing-rules section 10)."""
    excluded = _rows(
        conn,
        """select distinct unnest(f.evidence) as ref from marts.fct_findings f
           join billing.finding_reviews r using (finding_id) where r.status = 'excluded'""",
    )
    contracts = _rows(conn, "select * from marts.dim_contracts order by contract_id")
    return RatingInputs(
        clients=_rows(conn, "select * from marts.dim_clients order by client_id"),
        sites=_rows(conn, "select * from marts.dim_sites order by site_id"),
        contracts=contracts,
        tax_rates=_rows(conn, "select * from marts.fct_tax_rates order by jurisdiction_code, name"),
        excluded_refs=frozenset(r["ref"] for r in excluded),
        **{name: _frame(conn, table) for name, table in _FACTS.items()},
    )


def with_candidate_contracts(findings: list[dict], contracts: list[dict]) -> list[dict]:
    """Tie each finding on a record no contract claims to the client's contracts that could
    bill it: those billing usage in arrears (hourly rates, incident prices or a patrol visit
    fee) active on the record's date, else any of them. `holds_for` reads it."""
    usage: dict[str, list[tuple[str, date, date]]] = {}
    for row in contracts:
        terms = row.get("terms") or {}
        if terms.get("rates") or terms.get("incidents") or terms.get("patrol_visit_fee") is not None:
            usage.setdefault(str(row["client_id"]), []).append(
                (str(row["contract_id"]), row["start_date"], row["end_date"]))
    out = []
    for finding in findings:
        if finding.get("contract_id") is not None:
            out.append(finding)
            continue
        mine = usage.get(str(finding.get("client_id")), [])
        day = finding.get("service_date")
        active = {cid for cid, start, end in mine if day is not None and start <= day <= end}
        out.append({**finding, "candidate_contracts": active or {cid for cid, _, _ in mine}})
    return out


def open_blocking_findings(conn: psycopg2.extensions.connection) -> list[dict]:
    """Blocking findings no one has reviewed yet (reviews are read live, not from the last dbt build)."""
    return _rows(
        conn,
        """select f.finding_id, f.type, f.client_id, f.site_id, f.contract_id, f.service_date, f.evidence,
                  f.message
           from marts.fct_findings f left join billing.finding_reviews r using (finding_id)
           where f.severity = 'blocking' and r.finding_id is null
           order by f.finding_id""",
    )


def holds_for(draft: DraftInvoice, findings: list[dict]) -> list[dict]:
    """The blocking findings that hold this invoice (billing-rules section 8: the one invoice
    that would bill the finding's record, not the client's other invoices).

    - A finding citing a record this invoice bills or would bill (its covered refs) holds it.
      A record no contract claims (contract_id null: missing_rate, ambiguous_contract,
      service_outside_contract) is covered by each arrears invoice of its client and period;
      it holds only those of them with a contract of the client that bills usage and is
      active on the record's service date (any usage contract when none is active).
    - A finding without evidence holds the client's arrears invoice of its site and period."""
    covered = set(draft.covered_refs)
    reasons = []
    for finding in findings:
        evidence = set(finding["evidence"] or [])
        if evidence & covered:
            if _would_bill(draft, finding):
                reasons.append(finding)
            continue
        if (
            draft.kind == "arrears"
            and finding["client_id"] == draft.client_id
            and finding["service_date"] is not None
            and draft.period_start <= finding["service_date"] <= draft.period_end
            and (draft.site_id is None or finding["site_id"] in (None, draft.site_id))
            and (finding["contract_id"] is None or finding["contract_id"] in draft.contract_ids)
            and not evidence
        ):
            reasons.append(finding)
    return reasons


def _would_bill(draft: DraftInvoice, finding: dict) -> bool:
    """Whether the invoice covering a finding's record is the one that would bill it."""
    if finding.get("contract_id") is not None or draft.kind != "arrears":
        return True
    candidates = finding.get("candidate_contracts")
    return not candidates or bool(candidates & set(draft.contract_ids))


@dataclass
class IssueSummary:
    issued: list[str] = field(default_factory=list)
    held: int = 0
    released: list[str] = field(default_factory=list)
    unchanged: int = 0
    adjusted: list[str] = field(default_factory=list)  # originals whose difference went onto a new invoice
    credit_notes: list[str] = field(default_factory=list)


def _next_number(cur, prefix: str, year: int) -> str:
    cur.execute(
        """insert into billing.number_sequences (prefix, year, last_value) values (%s, %s, 1)
           on conflict (prefix, year) do update set last_value = billing.number_sequences.last_value + 1
           returning last_value""",
        (prefix, year),
    )
    return f"{prefix}-{year}-{cur.fetchone()[0]:06d}"


def _write_lines(cur, invoice_id: int, draft: DraftInvoice) -> None:
    cur.execute("delete from billing.invoice_lines where invoice_id = %s", (invoice_id,))
    psycopg2.extras.execute_values(
        cur,
        """insert into billing.invoice_lines (invoice_id, line_no, site_id, category, description, quantity,
               unit, unit_price, amount, tax_jurisdiction, source_refs, explanation) values %s""",
        [
            (invoice_id, n, ln.site_id, ln.category, ln.description, ln.quantity, ln.unit, ln.unit_price,
             ln.amount, ln.tax_jurisdiction, list(ln.source_refs), ln.explanation)
            for n, ln in enumerate(draft.lines, start=1)
        ],
    )


def _hold_json(findings: list[dict]) -> str:
    return json.dumps([{"finding_id": f["finding_id"], "type": f["type"], "message": f["message"]} for f in findings])


def issue_invoices(conn: psycopg2.extensions.connection, through: date) -> IssueSummary:
    """Persist every invoice whose issue date is on or before `through`, in one transaction.

    Numbers go in the order (issue date, client id, kind, site id), so rebuilding from the
    same inputs gives the same numbers; a held invoice released now is issued on `through`."""
    summary = IssueSummary()
    inputs = load_rating_inputs(conn)
    drafts = draft_invoices(inputs, through)
    findings = with_candidate_contracts(open_blocking_findings(conn), inputs.contracts)
    with conn, conn.cursor() as cur:
        cur.execute("select pg_advisory_xact_lock(hashtext('vigil.issue_invoices'))")
        cur.execute("select invoice_key, invoice_id, status from billing.invoices")
        existing = {key: (invoice_id, status) for key, invoice_id, status in cur.fetchall()}
        to_number: list[tuple[date, DraftInvoice, date, int | None]] = []
        for draft in drafts:
            holds = holds_for(draft, findings)
            known = existing.get(draft.key)
            if known is not None and known[1] != "held":
                summary.unchanged += 1
                continue
            if holds:
                summary.held += 1
                if known is None:
                    cur.execute(
                        """insert into billing.invoices (invoice_key, status, kind, client_id, site_id, contract_ids,
                               currency, period_start, period_end, issue_date, due_date, subtotal, tax_total, total,
                               hold_reasons)
                           values (%s, 'held', %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)
                           returning invoice_id""",
                        (draft.key, draft.kind, draft.client_id, draft.site_id, list(draft.contract_ids),
                         draft.currency, draft.period_start, draft.period_end, draft.issue_date, draft.due_date,
                         draft.subtotal, draft.tax_total, draft.total, _hold_json(holds)),
                    )
                    invoice_id = cur.fetchone()[0]
                else:
                    invoice_id = known[0]
                    cur.execute(
                        """update billing.invoices set hold_reasons = %s, subtotal = %s, tax_total = %s, total = %s
                           where invoice_id = %s""",
                        (_hold_json(holds), draft.subtotal, draft.tax_total, draft.total, invoice_id),
                    )
                _write_lines(cur, invoice_id, draft)
                continue
            if known is None:
                to_number.append((draft.issue_date, draft, draft.due_date, None))
            else:
                # Released: issued today with the next number, due the usual term after today.
                terms = draft.due_date - draft.issue_date
                due = max(draft.due_date, through) if draft.kind == "advance" else through + terms
                to_number.append((through, draft, due, known[0]))
        to_number.sort(key=lambda t: (t[0], t[1].client_id, t[1].kind, t[1].site_id or "", t[1].key))
        # Section 8 [ext]: differences of issued cycles that now re-rate differently.
        tax_rows = parse_tax_rows(inputs.tax_rates)
        onto, credits = place_adjustments(find_originals(cur, drafts, findings, through), to_number)
        for issue_date, draft, due_date, invoice_id in to_number:
            carried = onto.get(draft.key, [])
            if carried:
                draft = with_taxes(draft, [(_adjustment_line(o, d), d.tax_category) for o in carried
                                           for d in o.deltas], tax_rows)
            number = _next_number(cur, "INV", issue_date.year)
            if invoice_id is None:
                cur.execute(
                    """insert into billing.invoices (invoice_key, invoice_number, status, kind, client_id, site_id,
                           contract_ids, currency, period_start, period_end, issue_date, due_date, subtotal,
                           tax_total, total, issued_at)
                       values (%s, %s, 'issued', %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, now())
                       returning invoice_id""",
                    (draft.key, number, draft.kind, draft.client_id, draft.site_id, list(draft.contract_ids),
                     draft.currency, draft.period_start, draft.period_end, issue_date, due_date, draft.subtotal,
                     draft.tax_total, draft.total),
                )
                invoice_id = cur.fetchone()[0]
                summary.issued.append(number)
            else:
                cur.execute(
                    """update billing.invoices set invoice_number = %s, status = 'issued', issue_date = %s,
                           due_date = %s, subtotal = %s, tax_total = %s, total = %s, hold_reasons = null,
                           issued_at = now()
                       where invoice_id = %s""",
                    (number, issue_date, due_date, draft.subtotal, draft.tax_total, draft.total, invoice_id),
                )
                summary.released.append(number)
            _write_lines(cur, invoice_id, draft)
            line_no = 1 + sum(1 for ln in draft.lines if ln.category not in ("tax", "adjustment"))
            for orig in carried:
                record_adjustments(cur, orig, invoice_id, line_no)
                line_no += len(orig.deltas)
                summary.adjusted.append(orig.number)
        for orig in credits:
            summary.credit_notes.append(issue_credit_note(cur, orig, tax_rows, through))
    return summary


# ---------------------------------------------------------------------------------------
# Adjustments and credit notes (billing-rules section 8 [ext], docs/billing-rules.md
# "Adjustments and credit notes"). An issued invoice never changes: when its cycle re-rates
# differently, the difference per line identity (site, category, description, unit price)
# is billed as `adjustment` lines on the client's next invoice of the same kind, or, when
# the original's net difference is a decrease, as a credit note CN-YYYY-NNNNNN applied in
# the ledger. billing.adjustments records every difference billed, so re-running bills
# nothing twice.

_ISSUED_STATUSES = ("issued", "partially_paid", "paid", "in_collections")


@dataclass(frozen=True)
class Delta:
    """The difference on one line identity of an issued invoice."""

    site_id: str | None
    category: str
    description: str
    unit_price: Decimal
    unit: str
    tax_category: str
    tax_jurisdiction: str | None
    quantity: Decimal
    amount: Decimal
    refs: tuple[str, ...]
    billed_quantity: Decimal
    billed_amount: Decimal


@dataclass
class Original:
    """An issued invoice whose cycle now re-rates differently."""

    invoice_id: int
    number: str
    key: str
    kind: str
    client_id: str
    site_id: str | None
    contract_ids: tuple[str, ...]
    currency: str
    period_start: date
    period_end: date
    version: int
    deltas: list[Delta]

    @property
    def net(self) -> Decimal:
        return sum((d.amount for d in self.deltas), Decimal(0))


def taxable_categories(lines) -> list[str]:
    """The category each line is taxed as: its own, or for a discount the line it discounts
    (the engine places each discount right after its line)."""
    out, last = [], None
    for ln in lines:
        category = ln["category"] if isinstance(ln, dict) else ln.category
        if category == "discount" and last is not None:
            out.append(last)
        else:
            out.append(category)
            last = category
    return out


def _scheduled_issue(key: str) -> date:
    """The issue date an invoice key was drafted for (`...|<issue>><due>`)."""
    return date.fromisoformat(key.rsplit("|", 1)[1].split(">", 1)[0])


def _identity(site_id, category, description, unit_price) -> tuple:
    return (site_id, category, description, Decimal(unit_price))


def _accumulate(acc: dict, ident: tuple, *, unit, tax_category, jurisdiction, quantity, amount, refs) -> None:
    entry = acc.setdefault(ident, {"unit": unit, "tax_category": tax_category, "jurisdiction": jurisdiction,
                                   "quantity": Decimal(0), "amount": Decimal(0), "refs": set()})
    entry["quantity"] += Decimal(quantity)
    entry["amount"] += Decimal(amount)
    entry["refs"].update(refs or ())


def find_originals(cur, drafts: list[DraftInvoice], findings: list[dict], through: date) -> list[Original]:
    """Issued invoices whose cycle re-rates differently from what was billed for it so far
    (the original lines plus every adjustment already billed against it). An invoice the new
    rating holds (an open blocking finding on a record it bills) waits until it is resolved;
    an invoice drafted for a date after `through` is not compared (an earlier --through)."""
    by_key = {d.key: d for d in drafts}
    cur.execute(
        """select invoice_id, invoice_key, invoice_number, kind, client_id, site_id, contract_ids, currency,
                  period_start, period_end
           from billing.invoices
           where invoice_number like 'INV-%%' and credit_for is null and status in %s
           order by invoice_number""",
        (_ISSUED_STATUSES,),
    )
    heads = cur.fetchall()
    if not heads:
        return []
    cur.execute(
        """select l.invoice_id, l.site_id, l.category, l.description, l.quantity, l.unit, l.unit_price, l.amount,
                  l.tax_jurisdiction, l.source_refs
           from billing.invoice_lines l join billing.invoices i using (invoice_id)
           where i.invoice_number like 'INV-%%' and l.category not in ('tax', 'adjustment')
           order by l.invoice_id, l.line_no"""
    )
    cols = ("invoice_id", "site_id", "category", "description", "quantity", "unit", "unit_price", "amount",
            "tax_jurisdiction", "source_refs")
    lines_of: dict[int, list[dict]] = {}
    for row in cur.fetchall():
        ln = dict(zip(cols, row, strict=True))
        lines_of.setdefault(ln["invoice_id"], []).append(ln)
    cur.execute(
        """select original_invoice_id, site_id, category, description, unit_price, unit, tax_category,
                  tax_jurisdiction, quantity, amount, source_refs, version
           from billing.adjustments order by adjustment_id"""
    )
    adjusted: dict[int, list[tuple]] = {}
    for row in cur.fetchall():
        adjusted.setdefault(row[0], []).append(row[1:])

    out = []
    for invoice_id, key, number, kind, client_id, site_id, contract_ids, currency, start, end in heads:
        if _scheduled_issue(key) > through:
            continue
        draft = by_key.get(key)
        if draft is not None and holds_for(draft, findings):
            continue
        billed: dict[tuple, dict] = {}
        old_lines = lines_of.get(invoice_id, [])
        for ln, tax_cat in zip(old_lines, taxable_categories(old_lines), strict=True):
            _accumulate(billed, _identity(ln["site_id"], ln["category"], ln["description"], ln["unit_price"]),
                        unit=ln["unit"], tax_category=tax_cat, jurisdiction=ln["tax_jurisdiction"],
                        quantity=ln["quantity"], amount=ln["amount"], refs=ln["source_refs"])
        version = 0
        for a_site, a_cat, a_desc, a_price, a_unit, a_tax, a_jur, a_qty, a_amt, a_refs, a_version in adjusted.get(
                invoice_id, ()):
            _accumulate(billed, _identity(a_site, a_cat, a_desc, a_price), unit=a_unit, tax_category=a_tax,
                        jurisdiction=a_jur, quantity=a_qty, amount=a_amt, refs=a_refs)
            version = max(version, a_version)
        now: dict[tuple, dict] = {}
        new_lines = [ln for ln in (draft.lines if draft else ()) if ln.category not in ("tax", "adjustment")]
        for ln, tax_cat in zip(new_lines, taxable_categories(new_lines), strict=True):
            _accumulate(now, _identity(ln.site_id, ln.category, ln.description, ln.unit_price), unit=ln.unit,
                        tax_category=tax_cat, jurisdiction=ln.tax_jurisdiction, quantity=ln.quantity,
                        amount=ln.amount, refs=ln.source_refs)
        deltas = []
        for ident in sorted(billed.keys() | now.keys(), key=lambda i: (i[0] or "", i[1], i[2], i[3])):
            old, new = billed.get(ident), now.get(ident)
            ref_side = new or old
            d_qty = (new["quantity"] if new else 0) - (old["quantity"] if old else 0)
            d_amt = (new["amount"] if new else 0) - (old["amount"] if old else 0)
            if d_qty == 0 and d_amt == 0:
                continue
            old_refs = old["refs"] if old else set()
            new_refs = new["refs"] if new else set()
            refs = (old_refs ^ new_refs) or (old_refs | new_refs)
            deltas.append(Delta(
                site_id=ident[0], category=ident[1], description=ident[2], unit_price=ident[3],
                unit=ref_side["unit"], tax_category=ref_side["tax_category"],
                tax_jurisdiction=ref_side["jurisdiction"], quantity=Decimal(d_qty), amount=Decimal(d_amt),
                refs=tuple(sorted(refs)),
                billed_quantity=old["quantity"] if old else Decimal(0),
                billed_amount=old["amount"] if old else Decimal(0),
            ))
        if deltas:
            out.append(Original(invoice_id, number, key, kind, client_id, site_id, tuple(contract_ids or ()),
                                currency, start, end, version + 1, deltas))
    return out


def _adjustment_line(orig: Original, d: Delta, sign: int = 1) -> DraftLine:
    qty, amt = d.quantity * sign, d.amount * sign
    return DraftLine(
        site_id=d.site_id,
        category="adjustment",
        description=f"Adjustment to {orig.number}: {d.description}",
        quantity=qty,
        unit=d.unit,
        unit_price=d.unit_price,
        amount=amt,
        tax_jurisdiction=d.tax_jurisdiction,
        source_refs=(f"invoices:{orig.number}", *d.refs),
        explanation=(
            f"{orig.number} ({orig.period_start}..{orig.period_end}) re-rated: {d.category} at {fmt(d.unit_price)} "
            f"billed {fmt(d.billed_amount)} for {fmt(d.billed_quantity)} {d.unit}, now "
            f"{fmt(d.billed_amount + d.amount)} for {fmt(d.billed_quantity + d.quantity)} {d.unit}; "
            f"difference {fmt(d.amount)}"
        ),
    )


def with_taxes(draft: DraftInvoice, extra: list[tuple[DraftLine, str]], tax_rows, *, keep_lines: bool = True,
               **changes) -> DraftInvoice:
    """The draft with `extra` lines (each with the category it is taxed as) appended to its
    non-tax lines and every tax line recomputed on the whole (section 9)."""
    base = [ln for ln in draft.lines if ln.category != "tax"] if keep_lines else []
    cats = taxable_categories(base) + [cat for _, cat in extra]
    lines = base + [ln for ln, _ in extra]
    taxes = compute_taxes([(ln.tax_jurisdiction, cat, ln.amount) for ln, cat in zip(lines, cats, strict=True)],
                          tax_rows, draft.currency)
    tax_lines = [
        DraftLine(site_id=None, category="tax", description=t.row.name, quantity=t.base, unit="base",
                  unit_price=price(t.row.rate), amount=t.tax, tax_jurisdiction=t.row.jurisdiction, source_refs=(),
                  explanation=tax_explanation(t))
        for t in taxes
    ]
    subtotal = sum((ln.amount for ln in lines), Decimal(0))
    tax_total = sum((t.amount for t in tax_lines), Decimal(0))
    return dataclasses.replace(draft, lines=tuple(lines + tax_lines), subtotal=subtotal, tax_total=tax_total,
                               total=subtotal + tax_total, **changes)


def place_adjustments(originals: list[Original], to_number: list) -> tuple[dict[str, list[Original]], list[Original]]:
    """Where each original's difference goes: a net increase (or a zero net) onto the first
    invoice being numbered now for the same client, site and kind, sharing a contract, whose
    period starts after the original's; a net decrease onto a credit note. An increase with
    no such invoice yet waits (it is recomputed, not recorded) for the next one."""
    onto: dict[str, list[Original]] = {}
    credits = []
    for orig in originals:
        if orig.net < 0:
            credits.append(orig)
            continue
        for _, draft, _, _ in to_number:
            if (draft.client_id == orig.client_id and draft.kind == orig.kind and draft.site_id == orig.site_id
                    and set(draft.contract_ids) & set(orig.contract_ids) and draft.period_start > orig.period_end):
                onto.setdefault(draft.key, []).append(orig)
                break
    return onto, credits


def record_adjustments(cur, orig: Original, billed_invoice_id: int, first_line_no: int) -> None:
    psycopg2.extras.execute_values(
        cur,
        """insert into billing.adjustments (original_invoice_id, version, site_id, category, description, unit_price,
               unit, tax_category, tax_jurisdiction, quantity, amount, source_refs, billed_invoice_id, billed_line_no)
           values %s""",
        [
            (orig.invoice_id, orig.version, d.site_id, d.category, d.description, d.unit_price, d.unit,
             d.tax_category, d.tax_jurisdiction, d.quantity, d.amount, list(d.refs), billed_invoice_id, n)
            for n, d in enumerate(orig.deltas, start=first_line_no)
        ],
    )


def issue_credit_note(cur, orig: Original, tax_rows, through: date) -> str:
    """A credit note for a net decrease: the negative differences as `adjustment` lines, taxed
    like the lines they adjust, issued on `through`, applied as ledger credits to the original
    invoice's open balance, then the client's oldest open invoices; what is left is an
    unapplied client credit (invoice_id null)."""
    shell = DraftInvoice(
        key=f"CN|{orig.key}|v{orig.version}", kind=orig.kind, client_id=orig.client_id, site_id=orig.site_id,
        contract_ids=orig.contract_ids, currency=orig.currency, period_start=orig.period_start,
        period_end=orig.period_end, issue_date=through, due_date=through, lines=(), subtotal=Decimal(0),
        tax_total=Decimal(0), total=Decimal(0), covered_refs=(),
    )
    note = with_taxes(shell, [(_adjustment_line(orig, d), d.tax_category) for d in orig.deltas], tax_rows)
    number = _next_number(cur, "CN", through.year)
    cur.execute(
        """insert into billing.invoices (invoice_key, invoice_number, status, kind, client_id, site_id, contract_ids,
               currency, period_start, period_end, issue_date, due_date, subtotal, tax_total, total, issued_at,
               credit_for)
           values (%s, %s, 'issued', %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, now(), %s)
           returning invoice_id""",
        (note.key, number, note.kind, note.client_id, note.site_id, list(note.contract_ids), note.currency,
         note.period_start, note.period_end, note.issue_date, note.due_date, note.subtotal, note.tax_total,
         note.total, orig.number),
    )
    note_id = cur.fetchone()[0]
    _write_lines(cur, note_id, note)
    record_adjustments(cur, orig, note_id, 1)
    _apply_credit(cur, orig, -note.total, number, through)
    return number


def _apply_credit(cur, orig: Original, credit: Decimal, number: str, on: date) -> None:
    from billing.payments import refresh_invoice_status

    cur.execute(
        """select i.invoice_id, i.total - coalesce(sum(e.amount), 0) as balance
           from billing.invoices i
           left join billing.ledger_entries e on e.invoice_id = i.invoice_id and e.entry_type in ('payment', 'credit')
           where i.client_id = %s and i.invoice_number like 'INV-%%' and i.status in ('issued', 'partially_paid')
           group by i.invoice_id
           having i.total - coalesce(sum(e.amount), 0) > 0
           order by i.invoice_id <> %s, i.due_date, i.invoice_number""",
        (orig.client_id, orig.invoice_id),
    )
    targets: list[int | None] = []
    for invoice_id, balance in cur.fetchall():
        if credit <= 0:
            break
        amount = min(credit, balance)
        cur.execute(
            """insert into billing.ledger_entries (invoice_id, client_id, entry_type, amount, currency, effective_date,
                   reference) values (%s, %s, 'credit', %s, %s, %s, %s)""",
            (invoice_id, orig.client_id, amount, orig.currency, on, number),
        )
        targets.append(invoice_id)
        credit -= amount
    if credit > 0:
        cur.execute(
            """insert into billing.ledger_entries (invoice_id, client_id, entry_type, amount, currency, effective_date,
                   reference) values (null, %s, 'credit', %s, %s, %s, %s)""",
            (orig.client_id, credit, orig.currency, on, number),
        )
    for invoice_id in targets:
        refresh_invoice_status(cur, invoice_id)
