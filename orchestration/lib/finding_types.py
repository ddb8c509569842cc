"""The finding types as dbt's seed lists them (dbt_project/seeds/finding_types.csv): read by
the per-family asset checks, so a new type is added in one place."""

from __future__ import annotations

import csv
from functools import cache

from orchestration.lib.dbt import DBT_PROJECT_DIR

SEED = DBT_PROJECT_DIR / "seeds" / "finding_types.csv"


@cache
def families() -> dict[str, tuple[str, ...]]:
    """family -> its finding types, in the seed's order."""
    out: dict[str, list[str]] = {}
    with SEED.open(encoding="utf-8") as handle:
        for row in csv.DictReader(handle):
            out.setdefault(row["family"], []).append(row["type"])
    return {family: tuple(types) for family, types in out.items()}
