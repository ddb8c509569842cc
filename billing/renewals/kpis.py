"""Renewal KPIs as of a business day (the renewals asset's metadata, collections.md section 7):

- renewal rate: contracts renewed (accepted or auto-renewed) out of those decided (renewed,
  declined or expired), decided on or before the day;
- offers pending: offers out and not decided as of the day, the contract not ended;
- revenue up for renewal in the next 90 days: what the pending ones ending within 90 days
  are worth per month;
- revenue lost to expiry: what the declined and expired contracts were worth per month.
Money is summed per currency (amounts of different currencies never add up)."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal

from billing.renewals import store
from vigil import currency as currency_table

HORIZON_DAYS = 90


@dataclass(frozen=True)
class RenewalKpis:
    as_of: date
    decided: int
    renewed: int
    offers_pending: int
    up_for_renewal: dict[str, str] = field(default_factory=dict)  # currency -> per month
    lost_to_expiry: dict[str, str] = field(default_factory=dict)

    @property
    def renewal_rate(self) -> str:
        if not self.decided:
            return "n/a (nothing decided yet)"
        return f"{Decimal(100 * self.renewed / self.decided).quantize(Decimal('0.1'))}%"


def _per_currency(amounts: list[tuple[str, Decimal]]) -> dict[str, str]:
    totals: dict[str, Decimal] = defaultdict(Decimal)
    for code, amount in amounts:
        totals[code] += amount
    return {code: currency_table.display(total, code) for code, total in sorted(totals.items())}


def renewal_kpis(conn, as_of: date) -> RenewalKpis:
    renewals = list(store.renewals(conn).values())
    conn.commit()
    decided = [r for r in renewals if r["decision"] is not None and r["decided_on"] <= as_of]
    renewed = [r for r in decided if r["decision"] in ("accepted", "auto_renewed")]
    lost = [r for r in decided if r["decision"] in ("declined", "expired")]
    pending = [r for r in renewals if r["offered_on"] <= as_of <= r["end_date"]
               and (r["decision"] is None or r["decided_on"] > as_of)]
    horizon = as_of + timedelta(days=HORIZON_DAYS)
    return RenewalKpis(
        as_of=as_of, decided=len(decided), renewed=len(renewed), offers_pending=len(pending),
        up_for_renewal=_per_currency([(r["currency"], r["monthly_value"]) for r in pending
                                      if r["end_date"] <= horizon]),
        lost_to_expiry=_per_currency([(r["currency"], r["monthly_value"]) for r in lost]),
    )
