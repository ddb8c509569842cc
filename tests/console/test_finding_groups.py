"""The review queue's grouping (billing/finding_groups.py): related findings become one row,
and no finding is ever dropped or counted twice."""

from __future__ import annotations

from datetime import date, timedelta

import pytest

from billing.finding_groups import BadGrouping, group_findings, parse_group_by, sort_key, week_of
from billing.finding_types import finding_types, group_by

MONDAY = date(2026, 10, 5)


def finding(finding_id: str, type_: str = "overtime_without_incident", *, day: date | None = MONDAY,
            guard: str | None = "G-1", site: str = "S-1", severity: str = "warning", status: str = "open",
            evidence: tuple[str, ...] = (), classification: str | None = None, contract: str = "K-1") -> dict:
    return {"finding_id": finding_id, "type": type_, "severity": severity, "status": status, "client_id": "C-1",
            "site_id": site, "contract_id": contract, "service_date": day, "guard_id": guard,
            "classification": classification, "evidence": list(evidence) or [f"timesheets:{finding_id}"],
            "message": f"message {finding_id}"}


def test_overtime_groups_per_guard_and_week_not_per_shift():
    week = [finding(f"F{i}", day=MONDAY + timedelta(days=i)) for i in range(7)]  # Monday .. Sunday
    next_week = [finding("F7", day=MONDAY + timedelta(days=7))]
    other_guard = [finding("F8", guard="G-2")]
    groups = group_findings(week + next_week + other_guard, {"overtime_without_incident": ("guard", "week")})
    sizes = sorted((dict(g.key)["guard"], dict(g.key)["week"], g.size) for g in groups)
    assert sizes == [("G-1", "2026-10-05", 7), ("G-1", "2026-10-12", 1), ("G-2", "2026-10-05", 1)]
    [big] = [g for g in groups if g.size == 7]
    assert big.label == "guard G-1 · week of 2026-10-05"
    assert (big.first_date, big.last_date) == (MONDAY, MONDAY + timedelta(days=6))


def test_no_finding_is_dropped_or_counted_twice():
    findings = [finding(f"F{i}", day=MONDAY + timedelta(days=i % 10), guard=f"G-{i % 3}") for i in range(40)]
    findings += [finding("B1", "missing_checkout", severity="blocking"), finding("N1", guard=None),
                 finding("D1", day=None)]
    groups = group_findings(findings, group_by())
    members = [f["finding_id"] for g in groups for f in g.findings]
    assert sorted(members) == sorted(f["finding_id"] for f in findings)
    assert len(groups) < len(findings)


def test_a_finding_missing_a_grouping_value_stays_alone():
    groups = group_findings([finding("N1", guard=None), finding("N2", guard=None), finding("D1", day=None)],
                            {"overtime_without_incident": ("guard", "week")})
    assert sorted(g.size for g in groups) == [1, 1, 1]
    assert all(g.key[0][0] == "finding" for g in groups)


def test_blocking_types_stay_alone_and_come_first():
    findings = [finding("W1"), finding("W2"), finding("B1", "missing_checkout", severity="blocking"),
                finding("B2", "missing_checkout", severity="blocking"),
                finding("I1", "unpriced_incident", severity="info", classification="fire_alarm",
                        day=MONDAY - timedelta(days=30))]
    groups = group_findings(findings, group_by())
    assert [g.severity for g in groups] == ["blocking", "blocking", "warning", "info"]
    assert [g.size for g in groups[:2]] == [1, 1]


def test_type_dimensions_of_the_seed():
    findings = [finding("I1", "unpriced_incident", severity="info", classification="fire_alarm"),
                finding("I2", "unpriced_incident", severity="info", classification="fire_alarm",
                        day=MONDAY + timedelta(days=20)),
                finding("I3", "unpriced_incident", severity="info", classification="alarm_response"),
                finding("C1", "device_fee_without_events", evidence=("amag:1", "cycle:K-M/2026-10-01")),
                finding("C2", "device_fee_without_events", evidence=("amag:2", "cycle:K-M/2026-10-01")),
                finding("C3", "device_fee_without_events", evidence=("amag:2", "cycle:K-M/2026-11-01"))]
    groups = {(g.type, g.size) for g in group_findings(findings, group_by())}
    assert groups == {("unpriced_incident", 2), ("unpriced_incident", 1), ("device_fee_without_events", 2),
                      ("device_fee_without_events", 1)}


def test_group_status_and_open_members():
    groups = group_findings([finding("A", status="excluded"), finding("B")], {"overtime_without_incident": ("guard",)})
    [group] = groups
    assert group.status == "open" and [f["finding_id"] for f in group.open_findings] == ["B"]
    closed = group_findings([finding("A", status="excluded"), finding("B", status="billed_as_is")],
                            {"overtime_without_incident": ("guard",)})
    assert closed[0].status == "mixed"


def test_group_ids_are_stable_and_distinct():
    first = group_findings([finding("A"), finding("B", guard="G-2")], group_by())
    again = group_findings([finding("B", guard="G-2"), finding("A"), finding("C")], group_by())
    assert {g.group_id for g in first} == {g.group_id for g in again}
    assert len({g.group_id for g in first}) == 2


def test_sorting():
    findings = [finding("OLD", day=MONDAY - timedelta(days=14)), finding("BIG1"), finding("BIG2"),
                finding("BIG3", day=MONDAY + timedelta(days=1))]
    groups = group_findings(findings, {"overtime_without_incident": ("guard", "week")})
    assert [g.size for g in sorted(groups, key=sort_key("size"))] == [3, 1]
    assert [g.first_date for g in sorted(groups, key=sort_key("date"))] == [MONDAY - timedelta(days=14), MONDAY]


def test_parse_group_by():
    assert parse_group_by("guard+week") == ("guard", "week")
    assert parse_group_by("") == ("finding",)
    with pytest.raises(BadGrouping):
        parse_group_by("guard+fortnight")
    assert week_of(date(2026, 10, 11)) == MONDAY  # a Sunday belongs to the week that began on Monday


def test_the_seed_lists_a_grouping_and_a_rate_for_every_type():
    types = finding_types()
    assert len(types) == 18
    for kind in types.values():
        assert kind.group_by
        assert kind.expected_per_100 >= 0
    assert types["overtime_without_incident"].group_by == ("guard", "week")
    assert all(kind.group_by == ("finding",) for kind in types.values() if kind.severity == "blocking")
