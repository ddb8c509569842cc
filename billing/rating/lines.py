"""The engine's internal line: a DraftLine plus what invoicing needs to place, discount and tax it."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal

from billing.rating.cycles import Cycle

CATEGORY_ORDER = (
    "regular_hours",
    "overtime_hours",
    "double_time_hours",
    "holiday_hours",
    "holiday_overtime_hours",
    "special_event_hours",
    "minimum_shift_adjustment",
    "incident_fee",
    "incident_extended_time",
    "patrol_visit",
    "monitoring",
    "equipment_rental",
    "service_fee",
    "device_monitoring",
    "discount",
    "adjustment",
)
CATEGORY_LABEL = {
    "regular_hours": "regular",
    "overtime_hours": "overtime",
    "double_time_hours": "double time",
    "holiday_hours": "holiday",
    "holiday_overtime_hours": "holiday overtime",
    "special_event_hours": "special event",
    "minimum_shift_adjustment": "minimum shift adjustment",
}


@dataclass(frozen=True)
class Line:
    contract_id: str
    kind: str  # arrears | advance
    cycle: Cycle
    site_id: str | None
    category: str
    description: str
    quantity: Decimal
    unit: str
    unit_price: Decimal
    amount: Decimal
    source_refs: Sequence[str]  # a tuple, or a SourceRefs slice of a shared column (refs.py)
    explanation: str
    detail: str = ""  # tie-breaker for a stable order (service type, code, ...)

    def sort_key(self) -> tuple:
        rank = CATEGORY_ORDER.index(self.category) if self.category in CATEGORY_ORDER else len(CATEGORY_ORDER)
        return (self.site_id or "", self.contract_id, rank, self.detail, self.unit_price, self.description)


def service_label(service_type: str) -> str:
    return service_type.replace("_", " ").strip().capitalize() + " officer"
