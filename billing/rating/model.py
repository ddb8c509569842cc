"""The public data types of the rating engine (re-exported by billing.rating)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal

import polars as pl


@dataclass(frozen=True)
class IssuedGroup:
    """An invoice already issued for a client, kind and cycle (billing-rules section 8: its
    identity). Its lines stay grouped and dated as issued whatever the contract's terms,
    grouping or lead days say today: a term change applies to cycles not yet issued."""

    key: str
    client_id: str
    kind: str
    cycle_start: date
    site_id: str | None
    contract_ids: tuple[str, ...]
    issue_date: date
    due_date: date


@dataclass(frozen=True)
class RatingInputs:
    clients: list[dict]
    sites: list[dict]
    contracts: list[dict]
    tax_rates: list[dict]
    shifts: pl.DataFrame
    incidents: pl.DataFrame
    patrols: pl.DataFrame
    devices: pl.DataFrame
    excluded_refs: frozenset[str] = frozenset()
    issued: tuple[IssuedGroup, ...] = ()
    # (client, cycle start, cycle end) to draft; None: every cycle. The records given must hold
    # each such cycle whole (and the workweek before it), billing/open_cycles.py says which.
    open_cycles: frozenset[tuple[str, date, date]] | None = None


@dataclass(frozen=True)
class DraftLine:
    site_id: str | None
    category: str
    description: str
    quantity: Decimal
    unit: str
    unit_price: Decimal
    amount: Decimal
    tax_jurisdiction: str | None
    source_refs: Sequence[str]  # a tuple, or a SourceRefs slice of a shared column (refs.py)
    explanation: str


@dataclass(frozen=True)
class DraftInvoice:
    key: str
    kind: str
    client_id: str
    site_id: str | None
    contract_ids: tuple[str, ...]
    currency: str
    period_start: date
    period_end: date
    issue_date: date
    due_date: date
    lines: tuple[DraftLine, ...]
    subtotal: Decimal
    tax_total: Decimal
    total: Decimal
    covered_refs: Sequence[str]  # likewise
