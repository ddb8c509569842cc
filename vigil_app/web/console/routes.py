"""The finance console's routes (interfaces.md section 7)."""

from __future__ import annotations

routes: list = []
