"""Adjustments and credit notes (billing-rules section 8 [ext], docs/billing-rules.md
"Adjustments and credit notes"): the rules, without SQL.

An issued invoice never changes: when its cycle re-rates differently, the difference per line
identity (site, category, description, unit price at storage precision) is billed as
`adjustment` lines on the client's next invoice of the same kind, or, when the original's net
difference is a decrease, as a credit note CN-YYYY-NNNNNN applied in the ledger.
billing.adjustments records every difference billed, so re-running bills nothing twice."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal

from billing.holds import holds_for
from billing.rating import DraftInvoice
from billing.rating.model import DraftLine
from billing.rating.money import PRICE_QUANTUM, fmt, price
from billing.rating.taxes import compute_taxes, tax_explanation

ISSUED_STATUSES = ("issued", "partially_paid", "paid", "delinquent", "in_collections")


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


@dataclass
class IssuedRecord:
    """What was billed for one issued invoice so far: its lines and every adjustment since."""

    invoice_id: int
    key: str
    number: str
    kind: str
    client_id: str
    site_id: str | None
    contract_ids: tuple[str, ...]
    currency: str
    period_start: date
    period_end: date
    issue_date: date
    lines: list[dict] = field(default_factory=list)  # site_id, category, description, quantity, unit, ...
    adjustments: list[dict] = field(default_factory=list)  # the same, plus tax_category and version


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


def _identity(site_id, category, description, unit_price) -> tuple:
    """Unit prices compared at storage precision: what the table holds is what a run computes."""
    return (site_id, category, description, Decimal(unit_price).quantize(PRICE_QUANTUM))


def _accumulate(acc: dict, ident: tuple, *, unit, tax_category, jurisdiction, quantity, amount, refs) -> None:
    entry = acc.setdefault(ident, {"unit": unit, "tax_category": tax_category, "jurisdiction": jurisdiction,
                                   "quantity": Decimal(0), "amount": Decimal(0), "refs": set()})
    entry["quantity"] += Decimal(quantity)
    entry["amount"] += Decimal(amount)
    entry["refs"].update(refs or ())


def _billed_so_far(record: IssuedRecord) -> tuple[dict, int]:
    billed: dict[tuple, dict] = {}
    for ln, tax_cat in zip(record.lines, taxable_categories(record.lines), strict=True):
        _accumulate(billed, _identity(ln["site_id"], ln["category"], ln["description"], ln["unit_price"]),
                    unit=ln["unit"], tax_category=tax_cat, jurisdiction=ln["tax_jurisdiction"],
                    quantity=ln["quantity"], amount=ln["amount"], refs=ln["source_refs"])
    version = 0
    for adj in record.adjustments:
        _accumulate(billed, _identity(adj["site_id"], adj["category"], adj["description"], adj["unit_price"]),
                    unit=adj["unit"], tax_category=adj["tax_category"], jurisdiction=adj["tax_jurisdiction"],
                    quantity=adj["quantity"], amount=adj["amount"], refs=adj["source_refs"])
        version = max(version, adj["version"])
    return billed, version


def _rated_now(draft: DraftInvoice | None) -> dict:
    now: dict[tuple, dict] = {}
    new_lines = [ln for ln in (draft.lines if draft else ()) if ln.category not in ("tax", "adjustment")]
    for ln, tax_cat in zip(new_lines, taxable_categories(new_lines), strict=True):
        _accumulate(now, _identity(ln.site_id, ln.category, ln.description, ln.unit_price), unit=ln.unit,
                    tax_category=tax_cat, jurisdiction=ln.tax_jurisdiction, quantity=ln.quantity,
                    amount=ln.amount, refs=ln.source_refs)
    return now


def find_originals(issued: list[IssuedRecord], drafts: list[DraftInvoice], findings: list[dict],
                   through: date) -> list[Original]:
    """Issued invoices whose cycle re-rates differently from what was billed for it so far
    (the original lines plus every adjustment already billed against it). An invoice the new
    rating holds (an open blocking finding on a record it bills) waits until it is resolved;
    an invoice issued after `through` is not compared (a run with an earlier --through)."""
    by_key = {d.key: d for d in drafts}
    out = []
    for record in issued:
        if record.issue_date > through:
            continue
        draft = by_key.get(record.key)
        if draft is not None and holds_for(draft, findings):
            continue
        billed, version = _billed_so_far(record)
        now = _rated_now(draft)
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
            out.append(Original(record.invoice_id, record.number, record.key, record.kind, record.client_id,
                                record.site_id, record.contract_ids, record.currency, record.period_start,
                                record.period_end, version + 1, deltas))
    return out


def adjustment_line(orig: Original, d: Delta) -> DraftLine:
    return DraftLine(
        site_id=d.site_id,
        category="adjustment",
        description=f"Adjustment to {orig.number}: {d.description}",
        quantity=d.quantity,
        unit=d.unit,
        unit_price=price(d.unit_price),
        amount=d.amount,
        tax_jurisdiction=d.tax_jurisdiction,
        source_refs=(f"invoices:{orig.number}", *d.refs),
        explanation=(
            f"{orig.number} ({orig.period_start}..{orig.period_end}) re-rated: {d.category} at {fmt(d.unit_price)} "
            f"billed {fmt(d.billed_amount)} for {fmt(d.billed_quantity)} {d.unit}, now "
            f"{fmt(d.billed_amount + d.amount)} for {fmt(d.billed_quantity + d.quantity)} {d.unit}; "
            f"difference {fmt(d.amount)}"
        ),
    )


def adjustment_lines(originals: list[Original]) -> list[tuple[DraftLine, str]]:
    """Each difference as a line, with the category it is taxed as."""
    return [(adjustment_line(orig, d), d.tax_category) for orig in originals for d in orig.deltas]


def with_taxes(draft: DraftInvoice, extra: list[tuple[DraftLine, str]], tax_rows, **changes) -> DraftInvoice:
    """The draft with `extra` lines (each with the category it is taxed as) appended to its
    non-tax lines and every tax line recomputed on the whole (section 9)."""
    base = [ln for ln in draft.lines if ln.category != "tax"]
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


def credit_note(orig: Original, tax_rows, through: date) -> DraftInvoice:
    """A credit note for a net decrease: the negative differences as `adjustment` lines, taxed
    like the lines they adjust, issued and due on `through`."""
    shell = DraftInvoice(
        key=f"CN|{orig.key}|v{orig.version}", kind=orig.kind, client_id=orig.client_id, site_id=orig.site_id,
        contract_ids=orig.contract_ids, currency=orig.currency, period_start=orig.period_start,
        period_end=orig.period_end, issue_date=through, due_date=through, lines=(), subtotal=Decimal(0),
        tax_total=Decimal(0), total=Decimal(0), covered_refs=(),
    )
    return with_taxes(shell, adjustment_lines([orig]), tax_rows)
