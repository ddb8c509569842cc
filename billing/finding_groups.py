"""Grouping of findings for review (docs/validation.md, "The review queue"): related findings
become one row of the queue, so a month of overtime at one post is one decision, not one per
shift. Nothing is dropped: every finding belongs to exactly one group and is resolved on its
own row of billing.finding_reviews; a group only chooses them together.

How a type groups is the `group_by` column of dbt_project/seeds/finding_types.csv: dimensions
joined by `+`, among

| dimension | value |
| --- | --- |
| `finding` | the finding itself (a group of one) |
| `client`, `site`, `contract` | the finding's own |
| `guard` | the guard of its records (shift, tour) or the responder of its incident |
| `classification` | the classification of its incident |
| `week` | the Monday of the ISO week of its service date |
| `month` | the first day of the month of its service date |
| `cycle` | the billing cycle its evidence names (`cycle:<contract>/<first day>`) |

A finding that lacks a value its type groups by (no guard known, no date) stays alone."""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date, timedelta

DIMENSIONS = ("finding", "client", "site", "contract", "guard", "classification", "week", "month", "cycle")
SEVERITY_RANK = {"blocking": 0, "warning": 1, "info": 2}
ALONE = ("finding",)


class BadGrouping(ValueError):
    """A `group_by` naming an unknown dimension."""


def parse_group_by(text: str | None) -> tuple[str, ...]:
    """`guard+week` -> ("guard", "week"); empty means alone."""
    dimensions = tuple(part.strip() for part in (text or "").split("+") if part.strip())
    unknown = [name for name in dimensions if name not in DIMENSIONS]
    if unknown:
        raise BadGrouping(f"unknown grouping dimension {unknown[0]!r} (known: {', '.join(DIMENSIONS)})")
    return dimensions or ALONE


def week_of(day: date) -> date:
    return day - timedelta(days=day.weekday())


def _cycle(evidence: Iterable[str]) -> str | None:
    return next((ref.split(":", 1)[1] for ref in evidence if ref.startswith("cycle:")), None)


def dimension_value(finding: Mapping, dimension: str) -> str | None:
    day = finding.get("service_date")
    if dimension == "finding":
        return finding["finding_id"]
    if dimension in ("client", "site", "contract"):
        return finding.get(f"{dimension}_id")
    if dimension in ("guard", "classification"):
        return finding.get(f"{dimension}_id" if dimension == "guard" else dimension)
    if dimension == "week":
        return week_of(day).isoformat() if day else None
    if dimension == "month":
        return day.replace(day=1).isoformat() if day else None
    if dimension == "cycle":
        return _cycle(finding.get("evidence") or ())
    raise BadGrouping(f"unknown grouping dimension {dimension!r}")


def group_key(finding: Mapping, dimensions: tuple[str, ...]) -> tuple[tuple[str, str], ...]:
    values = [(name, dimension_value(finding, name)) for name in dimensions]
    if any(value is None for _, value in values):
        return (("finding", finding["finding_id"]),)
    return tuple((name, str(value)) for name, value in values)


@dataclass
class FindingGroup:
    """One row of the review queue: findings of one type sharing the values of its dimensions."""

    type: str
    key: tuple[tuple[str, str], ...]
    findings: list[dict] = field(default_factory=list)

    @property
    def group_id(self) -> str:
        text = self.type + "|" + "|".join(f"{name}={value}" for name, value in self.key)
        return "g" + hashlib.md5(text.encode()).hexdigest()[:16]

    @property
    def severity(self) -> str:
        return min((f["severity"] for f in self.findings), key=lambda s: SEVERITY_RANK.get(s, 9))

    @property
    def size(self) -> int:
        return len(self.findings)

    @property
    def open_findings(self) -> list[dict]:
        return [f for f in self.findings if f["status"] == "open"]

    @property
    def status(self) -> str:
        """open while one member is; otherwise the outcome they share, or `mixed`."""
        statuses = {f["status"] for f in self.findings}
        if "open" in statuses:
            return "open"
        return statuses.pop() if len(statuses) == 1 else "mixed"

    @property
    def first_date(self) -> date | None:
        return min((f["service_date"] for f in self.findings if f.get("service_date")), default=None)

    @property
    def last_date(self) -> date | None:
        return max((f["service_date"] for f in self.findings if f.get("service_date")), default=None)

    def distinct(self, column: str) -> list[str]:
        return sorted({str(f[column]) for f in self.findings if f.get(column)})

    @property
    def held(self) -> list[dict]:
        """The held invoices its open findings hold (the `held` the queue loader attaches)."""
        invoices = {invoice["invoice_id"]: invoice for f in self.open_findings for invoice in f.get("held") or []}
        return [invoices[key] for key in sorted(invoices)]

    @property
    def label(self) -> str:
        """What the members share, in words ("guard G-1 · week of 2026-10-05")."""
        if self.key[0][0] == "finding":
            return self.findings[0]["message"]
        words = {"week": "week of", "month": "month of", "cycle": "cycle"}
        return " · ".join(f"{words.get(name, name)} {value}" for name, value in self.key)


def group_findings(findings: Iterable[Mapping], group_by: Mapping[str, tuple[str, ...]]) -> list[FindingGroup]:
    """Every finding in exactly one group, by its type's dimensions (a type not in `group_by`
    stays alone); groups ordered most urgent first: severity, then the earliest date."""
    groups: dict[tuple, FindingGroup] = {}
    for finding in findings:
        dimensions = group_by.get(finding["type"], ALONE)
        key = group_key(finding, dimensions)
        group = groups.setdefault((finding["type"], key), FindingGroup(finding["type"], key))
        group.findings.append(dict(finding))
    for group in groups.values():
        group.findings.sort(key=lambda f: (f.get("service_date") or date.min, f["finding_id"]))
    return sorted(groups.values(), key=sort_key("severity"))


SORTS = ("severity", "date", "type", "client", "size")


def sort_key(by: str):
    """Orders of the queue: severity (default), date, type, client, size (largest first)."""

    def first(group: FindingGroup) -> date:
        return group.first_date or date.min

    def base(group: FindingGroup) -> tuple:
        return (SEVERITY_RANK.get(group.severity, 9), first(group), group.type, group.group_id)

    if by == "date":
        return lambda group: (first(group), *base(group))
    if by == "type":
        return lambda group: (group.type, *base(group))
    if by == "client":
        return lambda group: (",".join(group.distinct("client_id")) or "~", *base(group))
    if by == "size":
        return lambda group: (-group.size, *base(group))
    return base
