"""The finding types as dbt_project/seeds/finding_types.csv lists them (the one list of
types): family, severity, how the review queue groups them and how many a normal month
raises. Read from the file, so the console follows the seed without waiting for a dbt build."""

from __future__ import annotations

import csv
from dataclasses import dataclass
from decimal import Decimal
from functools import cache
from pathlib import Path

from billing.finding_groups import parse_group_by

SEED = Path(__file__).resolve().parents[1] / "dbt_project" / "seeds" / "finding_types.csv"
RATE_BASES = ("shifts", "incidents", "tours", "devices", "device_events", "clients")


@dataclass(frozen=True)
class FindingType:
    type: str
    family: str
    severity: str
    group_by: tuple[str, ...]
    rate_basis: str
    expected_per_100: Decimal
    description: str


@cache
def finding_types(path: Path = SEED) -> dict[str, FindingType]:
    out = {}
    with path.open(encoding="utf-8") as handle:
        for row in csv.DictReader(handle):
            if row["rate_basis"] not in RATE_BASES:
                raise ValueError(f"{path}: {row['type']}: rate_basis {row['rate_basis']!r} is not one of {RATE_BASES}")
            out[row["type"]] = FindingType(row["type"], row["family"], row["severity"],
                                           parse_group_by(row["group_by"]), row["rate_basis"],
                                           Decimal(row["expected_per_100"]), row["description"])
    return out


def group_by() -> dict[str, tuple[str, ...]]:
    return {name: kind.group_by for name, kind in finding_types().items()}
