"""What every rating stage shares: parsed contracts, sites, clients and cached cycle lookups."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date

import polars as pl

from billing.rating.contracts import Contract
from billing.rating.cycles import Cycle, cycle_of


@dataclass
class Context:
    contracts: dict[str, Contract]
    sites: dict[str, dict]
    clients: dict[str, dict]
    excluded: frozenset[str]
    _cycles: dict[tuple[str, date], Cycle] = field(default_factory=dict)
    _last_cycle: dict[str, Cycle] = field(default_factory=dict)

    def cycle(self, contract_id: str, day: date) -> Cycle:
        key = (contract_id, day)
        cy = self._cycles.get(key)
        if cy is None:
            # Every day of a cycle inside the contract has that cycle: the contract's last one
            # found answers most new days (rows come in date runs) without computing it again.
            last = self._last_cycle.get(contract_id)
            contract = self.contracts[contract_id]
            if last is not None and last.start <= day <= last.end and contract.start_date <= day <= contract.end_date:
                cy = last
            else:
                cy = self._last_cycle[contract_id] = cycle_of(contract, day)
            self._cycles[key] = cy
        return cy

    def cycle_starts(self, keys: pl.DataFrame, date_col: str) -> pl.DataFrame:
        """(contract_id, date_col) -> cycle_start for each distinct pair (few: contracts x days)."""
        u = keys.select("contract_id", date_col).unique().drop_nulls()
        starts = [self.cycle(c, d).start for c, d in u.iter_rows()]
        return u.with_columns(cycle_start=pl.Series(starts, dtype=pl.Date))

    def site_tz(self, site_id: str | None) -> str | None:
        site = self.sites.get(site_id) if site_id is not None else None
        return site.get("timezone") if site else None
