"""The generic inbox the simulator writes: deterministic, per interfaces.md, planted rows present."""

from __future__ import annotations

import csv
import re
from datetime import date
from pathlib import Path

import pytest
import yaml

from connectors.simulator import simulate

REQUIRED = {
    "timesheets": {"shift_id", "guard_id", "site_id", "service_type", "check_in", "check_out"},
    "incidents": {"incident_id", "site_id", "classification", "response_started_at", "response_ended_at"},
    "patrols": {"tour_id", "site_id", "guard_id", "started_at", "checkpoints_required", "checkpoints_scanned"},
    "devices": {"device_id", "site_id", "device_type", "active_from"},
}
TIMESTAMP_COLUMNS = {
    "timesheets": ["check_in", "check_out", "scheduled_start", "scheduled_end"],
    "incidents": ["opened_at", "response_started_at", "response_ended_at"],
    "patrols": ["started_at", "completed_at"],
}
WITH_OFFSET = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}[+-]\d{2}:\d{2}$")
MONEY = re.compile(r"^-?\d+\.\d{2}$")


def snapshot(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def read_csv(path: Path) -> list[dict[str, str]]:
    with path.open(newline="", encoding="utf-8") as f:
        return list(csv.DictReader(f))


@pytest.fixture(scope="module")
def inbox(tmp_path_factory):
    root = tmp_path_factory.mktemp("inbox")
    return root, simulate(root)


def test_same_seed_byte_identical(tmp_path, inbox):
    root, manifest = inbox
    again = simulate(tmp_path / "a")
    assert snapshot(tmp_path / "a") == snapshot(root)
    assert again.to_dict() | {"out_dir": ""} == manifest.to_dict() | {"out_dir": ""}
    other = simulate(tmp_path / "b", seed=8)
    assert snapshot(tmp_path / "b") != snapshot(root)
    assert other.start == manifest.start


def test_manifest(inbox):
    root, m = inbox
    assert (m.start, m.end) == (date(2026, 9, 27), date(2026, 10, 31))
    assert sorted(m.files) == sorted(snapshot(root))
    for source in ("contracts", "timesheets", "incidents", "patrols", "devices", "tax"):
        assert m.counts[source] > 0
    assert m.world["clients"] == 4 and m.world["guards"] >= 12
    assert m.quarantine_expected == {"timesheets": 1, "incidents": 1, "patrols": 1}
    expects = {p.kind: p.expect for p in m.planted}
    assert expects["open_shift"] == "missing_checkout"
    assert expects["redelivered_changed"] == "duplicate_record"
    assert expects["missed_checkpoints"] == "missed_checkpoints"
    assert expects["unknown_service_type"] == "missing_rate"
    assert all(p.file and p.line for p in m.planted if p.source != "contracts")


def test_layout_and_required_columns(inbox):
    root, _ = inbox
    for folder, required in REQUIRED.items():
        files = sorted((root / folder).glob("*.csv"))
        assert files, folder
        for f in files:
            with f.open(newline="", encoding="utf-8") as fh:
                header = next(csv.reader(fh))
            assert required <= set(header), (f, required - set(header))
    tax = read_csv(root / "tax" / "jurisdictions.csv")
    assert {"code", "rate", "taxable_categories", "name"} <= set(tax[0])
    ny = [r for r in tax if r["code"] == "US-NY"]
    assert sorted(r["rate"] for r in ny) == ["0.04", "0.04875"]
    assert all("regular_hours" in r["taxable_categories"].split(";") for r in ny)
    assert not any("regular_hours" in r["taxable_categories"] for r in tax if r["code"] == "US-CA")
    assert {r["code"] for r in tax} >= {"US-NY", "US-IL", "US-CO", "US-CA"}


def test_timestamps_carry_offsets_except_the_planted_row(inbox):
    root, m = inbox
    bad = {(p.file, p.line) for p in m.planted if p.kind == "timestamp_without_offset"}
    seen_bad = set()
    for folder, columns in TIMESTAMP_COLUMNS.items():
        for f in sorted((root / folder).glob("*.csv")):
            for n, row in enumerate(read_csv(f), start=2):
                for c in columns:
                    v = row[c]
                    if v == "" and c == "check_out":
                        continue
                    if not WITH_OFFSET.match(v):
                        seen_bad.add((f"{folder}/{f.name}", n))
    assert seen_bad == bad and len(bad) == 1


def test_contract_yaml(inbox):
    root, m = inbox
    files = sorted((root / "contracts").glob("*.yaml"))
    assert len(files) == 4
    for f in files:
        text = f.read_text(encoding="utf-8")
        doc = yaml.safe_load(text)
        c = doc["client"]
        assert c["id"] == f.stem and c["name"] and (c.get("email") or c.get("phone"))
        assert c.get("preferred_channel", "email") in {"email", "sms", "portal"}
        assert c.get("grouping", "consolidated") in {"consolidated", "per_site"}
        for s in doc["sites"]:
            assert {"id", "name", "timezone", "tax_jurisdiction"} <= set(s)
        assert {k["id"][-1] for k in doc["contracts"]} == {"G", "M"}
        for k in doc["contracts"]:
            assert {"id", "start_date", "end_date", "billing_cycle"} <= set(k)
            assert isinstance(k["start_date"], date) and isinstance(k["end_date"], date)
            assert k["start_date"] <= m.start and k["end_date"] >= m.end
            assert k["billing_cycle"] in {"daily", "weekly", "biweekly", "monthly"}
            if k["billing_cycle"] == "biweekly":
                assert k["cycle_anchor"].weekday() == 0
            for r in k.get("rates", []):
                assert isinstance(r["rate"], str) and MONEY.match(r["rate"])
            for r in k.get("recurring", []):
                assert isinstance(r["amount"], str) and MONEY.match(r["amount"])
                assert r["category"] in {"monitoring", "equipment_rental", "service_fee"}
            for price in k.get("incidents", {}).values():
                assert MONEY.match(price["flat_fee"]) and MONEY.match(price["hourly_rate"])
            if "overtime" in k:
                assert isinstance(k["overtime"]["multiplier"], str)
            if "holidays" in k:
                assert isinstance(k["holidays"]["multiplier"], str)
            if "patrol_visit_fee" in k:
                assert MONEY.match(k["patrol_visit_fee"])
            for d in k.get("discounts", []):
                assert isinstance(d["percent"], str)


def _row(root: Path, file: str, line: int) -> dict[str, str]:
    return read_csv(root / file)[line - 2]


def test_planted_rows_are_where_the_manifest_says(inbox):
    root, m = inbox
    planted = {p.kind: p for p in m.planted}
    id_col = {"timesheets": "shift_id", "incidents": "incident_id", "patrols": "tour_id"}
    for p in m.planted:
        if p.file:
            folder = p.file.split("/")[0]
            assert _row(root, p.file, p.line)[id_col[folder]] == p.record_id, p
    assert _row(root, planted["open_shift"].file, planted["open_shift"].line)["check_out"] == ""
    assert _row(root, planted["unknown_service_type"].file, planted["unknown_service_type"].line)[
        "service_type"] == "k9_unit"
    row = _row(root, planted["missed_checkpoints"].file, planted["missed_checkpoints"].line)
    assert int(row["checkpoints_scanned"]) < int(row["checkpoints_required"])
    assert not _row(root, planted["non_numeric_checkpoints"].file,
                    planted["non_numeric_checkpoints"].line)["checkpoints_scanned"].isdigit()
    assert _row(root, planted["missing_required_field"].file, planted["missing_required_field"].line)[
        "classification"] == ""

    def versions(shift_id: str) -> list[tuple[str, dict[str, str]]]:
        return [(f.name, r) for f in sorted((root / "timesheets").glob("*.csv")) for r in read_csv(f)
                if r["shift_id"] == shift_id]

    changed = versions(planted["redelivered_changed"].record_id)
    assert len(changed) == 2 and changed[0][0] < changed[1][0] and changed[0][1] != changed[1][1]
    same = versions(planted["redelivered_same"].record_id)
    assert len(same) == 2 and same[0][0] < same[1][0] and same[0][1] == same[1][1]
    # the patrol shift without tours really has none
    shift = _row(root, planted["patrol_shift_without_tours"].file, planted["patrol_shift_without_tours"].line)
    assert shift["service_type"] == "patrol"
    tours = [r for f in sorted((root / "patrols").glob("*.csv")) for r in read_csv(f)]
    assert not any(t["guard_id"] == shift["guard_id"] and shift["check_in"] <= t["started_at"] <= shift["check_out"]
                   and t["site_id"] == shift["site_id"] for t in tours)
    # only the planted rows are bad: every other shift id appears once
    ids = [r["shift_id"] for f in sorted((root / "timesheets").glob("*.csv")) for r in read_csv(f)]
    dupes = {i for i in ids if ids.count(i) > 1}
    assert dupes == {planted["redelivered_changed"].record_id, planted["redelivered_same"].record_id}


def test_stale_files_of_an_earlier_simulation_are_replaced(tmp_path):
    simulate(tmp_path, days=35)
    (tmp_path / "timesheets" / "from-finance.csv").write_text("shift_id\n", encoding="utf-8")
    m = simulate(tmp_path, days=7, clients=2)
    on_disk = set(snapshot(tmp_path))
    assert on_disk == set(m.files) | {"timesheets/from-finance.csv"}
    assert len(list((tmp_path / "contracts").glob("*.yaml"))) == 2


def test_the_inbox_connector_accepts_all_but_the_planted_rows(inbox):
    """Cross-check with the real generic parsers, where they exist."""
    records = pytest.importorskip("connectors.inbox.records")
    contracts = pytest.importorskip("connectors.inbox.contracts")
    root, m = inbox
    result = contracts.parse_contracts(sorted((root / "contracts").glob("*.yaml")))
    assert result.quarantined == [] and result.rows.height == 4
    refused = set()
    accepted = {}
    for kind in ("timesheets", "incidents", "patrols", "devices"):
        accepted[kind] = 0
        for f in sorted((root / kind).glob("*.csv")):
            r = records.parse_records(f, kind)
            accepted[kind] += r.rows.height
            refused |= {(str(Path(q.file_path).relative_to(root)), q.line) for q in r.quarantined}
    assert refused == {(p.file, p.line) for p in m.planted if p.expect == "quarantine"}
    assert accepted["timesheets"] == m.counts["timesheets"] - 1
    assert accepted["devices"] == m.counts["devices"]


@pytest.mark.parametrize("kwargs", [{"clients": 9, "seed": 3, "days": 45}, {"end": date(2026, 3, 20), "days": 20}])
def test_other_worlds_validate_too(tmp_path, kwargs):
    contracts = pytest.importorskip("connectors.inbox.contracts")
    m = simulate(tmp_path, **kwargs)
    result = contracts.parse_contracts(sorted((tmp_path / "contracts").glob("*.yaml")))
    assert result.quarantined == [], [q.message() for q in result.quarantined]
    assert m.quarantine_expected == {"timesheets": 1, "incidents": 1, "patrols": 1}


def test_identical_across_processes_and_hash_seeds(tmp_path):
    """No dependence on set/dict hash order: two interpreters with different hash seeds."""
    import os
    import subprocess
    import sys

    root = Path(__file__).resolve().parents[2]
    for h in ("1", "2"):
        code = ("from pathlib import Path; from connectors.simulator import simulate; "
                f"simulate(Path({str(tmp_path / h)!r}))")
        subprocess.run([sys.executable, "-c", code], check=True, cwd=root,
                       env={**os.environ, "PYTHONHASHSEED": h, "PYTHONPATH": str(root)})
    assert snapshot(tmp_path / "1") == snapshot(tmp_path / "2")


def test_guarding_and_monitoring_can_be_left_to_other_feeds(tmp_path):
    from connectors.simulator import build_world, write_generic

    world = build_world()
    skip = {"S-301"}
    m = write_generic(world, tmp_path, skip_guarding_sites=skip, contract_kinds=("guarding",))
    shifts = [r for f in sorted((tmp_path / "timesheets").glob("*.csv")) for r in read_csv(f)]
    tours = [r for f in sorted((tmp_path / "patrols").glob("*.csv")) for r in read_csv(f)]
    assert shifts and not {r["site_id"] for r in shifts} & skip
    assert len(shifts) == m.counts["timesheets"]
    assert len(shifts) == sum(1 for x in world.shifts if x.site_id not in skip) + sum(
        1 for r in world.redeliveries if r.record.site_id not in skip)
    assert len(tours) == m.counts["patrols"] == sum(1 for t in world.tours if t.site_id not in skip)
    assert m.quarantine_expected == {"timesheets": 1, "incidents": 1, "patrols": 1}
    bad = next(p for p in m.planted if p.kind == "timestamp_without_offset")
    assert bad.file and world.shift(bad.record_id).site_id not in skip
    for path in sorted((tmp_path / "contracts").glob("*.yaml")):
        doc = yaml.safe_load(path.read_text(encoding="utf-8"))
        assert [k["id"][-2:] for k in doc["contracts"]] == ["-G"]


def test_generic_devices_name_the_vendor_id_as_the_vendor_reports_it(inbox):
    root, _ = inbox
    refs = {r["device_id"]: r["vendor_ref"] for r in read_csv(root / "devices" / "devices.csv")}
    from connectors.simulator import build_world

    for d in build_world().devices:
        vendor, _, ident = refs[d.device_id].partition(":")
        assert vendor == d.vendor
        if d.vendor == "lenel" and d.device_type == "door_reader":
            assert ident == f"{d.controller_ref}/{d.vendor_ref}"  # readers are numbered per panel
        else:
            assert ident == d.vendor_ref
