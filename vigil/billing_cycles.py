"""The billing cycles a contract may name (interfaces.md section 3, and the calendar cycles of
docs/interfaces.md), one list for the connectors that accept contracts and the rating that
bills them, as vigil/currency.py is one currency table."""

from __future__ import annotations

CYCLES = ("daily", "weekly", "biweekly", "monthly", "quarterly", "semiannual", "annual")
# calendar cycles: months per cycle (a quarter, a half-year and a year start in January)
CYCLE_MONTHS = {"monthly": 1, "quarterly": 3, "semiannual": 6, "annual": 12}
