"""The inbox sensor asks for one run per new or changed file, and never twice for the same content."""

from __future__ import annotations

import json

import dagster as dg

from orchestration.defs.ingest.sensors import inbox_file_sensor
from orchestration.lib.resources import InboxResource


def _tick(inbox, cursor=None):
    context = dg.build_sensor_context(cursor=cursor, resources={"inbox": InboxResource(path=str(inbox))})
    return inbox_file_sensor(context)


def test_one_run_per_new_file_then_nothing(tmp_path):
    (tmp_path / "timesheets").mkdir()
    (tmp_path / "timesheets" / "a.csv").write_text("shift_id\n")
    (tmp_path / "tax").mkdir()
    (tmp_path / "tax" / "jurisdictions.csv").write_text("code,rate,taxable_categories\n")
    first = _tick(tmp_path)
    files = sorted(r.tags["vigil/inbox_file"] for r in first.run_requests)
    assert files == ["tax/jurisdictions.csv", "timesheets/a.csv"]
    config = first.run_requests[0].run_config["ops"]["inbox_files"]["config"]
    assert config["inbox"] == str(tmp_path.resolve())
    assert len(config["only_files"]) == 1

    second = _tick(tmp_path, first.cursor)
    assert not second.run_requests

    (tmp_path / "timesheets" / "a.csv").write_text("shift_id\nSH-1\n")
    third = _tick(tmp_path, second.cursor)
    assert [r.tags["vigil/inbox_file"] for r in third.run_requests] == ["timesheets/a.csv"]
    assert third.run_requests[0].run_key != first.run_requests[1].run_key
    assert "timesheets/a.csv" in json.loads(third.cursor)


def test_touched_but_unchanged_file_is_not_ingested_again(tmp_path):
    path = tmp_path / "a.csv"
    path.write_text("x\n")
    first = _tick(tmp_path)
    path.write_text("x\n")  # same content, new mtime
    again = _tick(tmp_path, first.cursor)
    assert not again.run_requests
