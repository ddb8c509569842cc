"""The simulated world is deterministic and internally consistent."""

from __future__ import annotations

from collections import defaultdict
from datetime import date, timedelta
from zoneinfo import ZoneInfo

import pytest

from connectors.simulator.world import DEFAULT_END, TIMEZONES, UNKNOWN_SERVICE_TYPE, World, build_world

CONFIGS = [
    {},  # the demo's defaults
    {"clients": 7, "seed": 3, "days": 60},
    {"clients": 2, "seed": 11, "days": 20, "end": date(2026, 3, 20)},  # across spring-forward
    {"seed": 5, "days": 14, "end": date(2026, 11, 7)},  # across fall-back
]


@pytest.fixture(scope="module", params=CONFIGS, ids=lambda c: ",".join(f"{k}={v}" for k, v in c.items()) or "default")
def world(request) -> World:
    return build_world(**request.param)


def test_same_seed_same_world():
    assert build_world() == build_world()
    assert build_world(seed=8).shifts != build_world().shifts


def test_default_window():
    w = build_world()
    assert w.end == DEFAULT_END == date(2026, 10, 31)
    assert w.start == date(2026, 9, 27)


def test_company_shape():
    w = build_world()
    assert len(w.clients) == 4
    assert all(1 <= len(c.site_ids) <= 3 for c in w.clients)
    assert {s.timezone for s in w.sites} == set(TIMEZONES)
    assert len(w.guards) >= 12
    assert {"unarmed", "armed", "patrol"} <= {x.service_type for x in w.shifts}
    assert {"camera", "door_reader", "panel"} == {d.device_type for d in w.devices}
    guarding = [k for k in w.contracts if k.kind == "guarding"]
    monitoring = [k for k in w.contracts if k.kind == "monitoring"]
    assert {k.client_id for k in guarding} == {k.client_id for k in monitoring} == {c.client_id for c in w.clients}
    assert {"weekly", "biweekly", "monthly"} <= {k.billing_cycle for k in guarding}
    policies = [k.overtime["policy"] for k in guarding]
    assert policies.count("weekly") >= 2 and "daily" in policies
    assert all(k.holidays and k.holidays["country"] == "US" and k.holidays["names"] for k in guarding)
    assert any(k.incidents for k in guarding) and any(k.patrol_visit_fee for k in guarding)
    assert all(any(r.category == "monitoring" for r in k.recurring) for k in monitoring)
    assert any(r.category == "equipment_rental" for k in monitoring for r in k.recurring)
    assert any(k.discounts for k in monitoring)
    methods = [(c.autopay, c.payment_method) for c in w.clients]
    assert (True, "pm_card_visa") in methods
    assert (True, "pm_card_chargeCustomerFail") in methods
    assert (True, None) in methods


def test_contracts_cover_the_window(world):
    for k in world.contracts:
        assert k.start_date <= world.start and k.end_date >= world.end, k.contract_id
        if k.billing_cycle == "biweekly":
            assert k.cycle_anchor is not None and k.cycle_anchor.weekday() == 0


def test_shifts_are_sane_and_never_overlap(world):
    planted_open = world.planted_ids("open_shift")
    by_guard = defaultdict(list)
    for x in world.shifts:
        if x.shift_id in planted_open:
            assert x.check_out is None
            continue
        assert x.check_out is not None and x.check_out > x.check_in, x.shift_id
        hours = (x.scheduled_end - x.scheduled_start).total_seconds() / 3600
        if x.service_type != UNKNOWN_SERVICE_TYPE:
            assert 8 <= hours <= 12, x.shift_id
        assert abs(x.check_in - x.scheduled_start) < timedelta(minutes=30)
        assert x.service_type in world.guard(x.guard_id).qualifications or x.service_type == UNKNOWN_SERVICE_TYPE
        by_guard[x.guard_id].append(x)
    for x in world.shifts:
        if x.shift_id in planted_open:  # treat the open shift as ending when scheduled
            by_guard[x.guard_id].append(x)
    for gid, shifts in by_guard.items():
        shifts.sort(key=lambda s: s.check_in)
        for a, b in zip(shifts, shifts[1:], strict=False):
            assert (a.check_out or a.scheduled_end) <= b.check_in, (gid, a.shift_id, b.shift_id)
            assert a.scheduled_end <= b.scheduled_start, (gid, a.shift_id, b.shift_id)
    assert len({x.shift_id for x in world.shifts}) == len(world.shifts)


def test_overtime_overnight_and_rounding_cases_happen():
    w = build_world()
    weekly = defaultdict(float)
    for x in w.shifts:
        if x.check_out:
            local = w.local(x.check_in, x.site_id).date()
            weekly[(x.guard_id, local - timedelta(days=local.weekday()))] += (x.check_out - x.check_in).total_seconds()
    assert max(weekly.values()) / 3600 > 44
    assert any(w.local(x.check_in, x.site_id).date() != w.local(x.scheduled_end, x.site_id).date() for x in w.shifts)
    deltas = [(x.check_in - x.scheduled_start).total_seconds() / 60 for x in w.shifts]
    assert any(d <= -8 for d in deltas) and any(d >= 8 for d in deltas)
    # both sides of the 7.5-minute rounding boundary occur
    minutes = {w.local(x.check_in, x.site_id).minute for x in w.shifts}
    assert minutes & {1, 2, 3, 4, 5, 6, 7} and minutes & {8, 9, 10, 11, 12, 13, 14}


def test_patrol_shifts_have_tours_inside(world):
    no_tours = world.planted_ids("patrol_shift_without_tours")
    short = world.planted_ids("missed_checkpoints")
    tours_of = defaultdict(list)
    for t in world.tours:
        tours_of[t.shift_id].append(t)
    for x in world.shifts:
        if x.service_type != "patrol" or x.check_out is None:
            continue
        if x.shift_id in no_tours:
            assert not tours_of[x.shift_id]
            continue
        assert tours_of[x.shift_id], x.shift_id
        for t in tours_of[x.shift_id]:
            assert t.guard_id == x.guard_id and t.site_id == x.site_id
            assert x.check_in < t.started_at < t.completed_at < x.check_out
            times = [s.scanned_at for s in t.scans]
            assert times == sorted(times) and t.started_at < times[0] and times[-1] < t.completed_at
            assert t.checkpoints_scanned <= t.checkpoints_required
            assert (t.checkpoints_scanned < t.checkpoints_required) == (t.tour_id in short)
    # no tour without a patrol shift behind it
    patrol_ids = {x.shift_id for x in world.shifts if x.service_type == "patrol"}
    assert all(t.shift_id in patrol_ids for t in world.tours)


def test_responders_are_on_shift_at_the_site(world):
    for i in world.incidents:
        assert i.opened_at <= i.response_started_at < i.response_ended_at
        if i.responder_guard_id is None:
            continue
        x = world.shift(i.responder_shift_id)
        assert x.guard_id == i.responder_guard_id and x.site_id == i.site_id
        assert x.check_in <= i.response_started_at < x.check_out


def test_device_events_around_incidents(world):
    events = defaultdict(list)
    for e in world.device_events:
        d = world.device(e.device_id)
        assert d.site_id == e.site_id
        assert d.active_on(world.local(e.occurred_at, e.site_id).date())
        if e.incident_id:
            events[e.incident_id].append(e)
    assert len({e.event_id for e in world.device_events}) == len(world.device_events)
    for i in world.incidents:
        evs = events[i.incident_id]
        kinds = {world.device(e.device_id).device_type for e in evs}
        assert {"camera", "door_reader"} <= kinds, i.incident_id
        for e in evs:
            assert e.site_id == i.site_id
            assert i.opened_at - timedelta(minutes=10) <= e.occurred_at <= i.response_ended_at + timedelta(minutes=10)
        if i.trigger_device_id:
            assert any(e.device_id == i.trigger_device_id for e in evs)


def test_local_offsets_follow_dst():
    w = build_world(days=14, end=date(2026, 11, 7), seed=5)
    ny = ZoneInfo("America/New_York")
    offsets = {x.check_in.astimezone(ny).utcoffset() for x in w.shifts if w.site(x.site_id).timezone == str(ny)}
    assert offsets == {timedelta(hours=-4), timedelta(hours=-5)}


def test_every_vendor_runs_at_least_one_site():
    from connectors.simulator.world import ACCESS_VENDORS, VIDEO_VENDORS

    for w in (build_world(), build_world(clients=2, seed=11)):
        assert {s.video_vendor for s in w.sites} >= set(VIDEO_VENDORS)
        assert {s.access_vendor for s in w.sites} >= set(ACCESS_VENDORS)
