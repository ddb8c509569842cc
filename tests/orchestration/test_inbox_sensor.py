"""The inbox sensor asks for one run per tick for every new settled file, and never twice for
the same content."""

from __future__ import annotations

import json
import os
import time

import dagster as dg

from orchestration.defs.ingest.sensors import BATCH_TAG, inbox_file_sensor, inbox_run_requests
from orchestration.lib.resources import InboxResource


def _tick(inbox, cursor=None, settle_seconds=0):
    context = dg.build_sensor_context(
        cursor=cursor, resources={"inbox": InboxResource(path=str(inbox), settle_seconds=settle_seconds)})
    return inbox_file_sensor(context)


def _age(path, seconds):
    """Make a file look last changed `seconds` ago (modification time; the test's clock
    below is shifted for the change time, which cannot be set)."""
    past = time.time() - seconds
    os.utime(path, (past, past))


def test_one_run_for_the_new_files_of_a_tick_then_nothing(tmp_path):
    (tmp_path / "timesheets").mkdir()
    (tmp_path / "timesheets" / "a.csv").write_text("shift_id\n")
    (tmp_path / "tax").mkdir()
    (tmp_path / "tax" / "jurisdictions.csv").write_text("code,rate,taxable_categories\n")
    first = _tick(tmp_path)
    [request] = first.run_requests
    config = request.run_config["ops"]["inbox_files"]["config"]
    assert config["inbox"] == str(tmp_path.resolve())
    assert config["only_files"] == ["tax/jurisdictions.csv", "timesheets/a.csv"]
    assert request.tags[BATCH_TAG] == "2"

    second = _tick(tmp_path, first.cursor)
    assert not second.run_requests

    (tmp_path / "timesheets" / "a.csv").write_text("shift_id\nSH-1\n")
    (tmp_path / "timesheets" / "b.csv").write_text("shift_id\nSH-2\n")
    third = _tick(tmp_path, second.cursor)
    [changed] = third.run_requests
    assert changed.run_config["ops"]["inbox_files"]["config"]["only_files"] == ["timesheets/a.csv",
                                                                                 "timesheets/b.csv"]
    assert changed.run_key != request.run_key
    assert "timesheets/b.csv" in json.loads(third.cursor)


def test_run_key_is_the_batch_content(tmp_path):
    (tmp_path / "a.csv").write_text("x\n")
    one, _ = inbox_run_requests(tmp_path, {})
    again, _ = inbox_run_requests(tmp_path, {})
    assert one[0].run_key == again[0].run_key
    (tmp_path / "a.csv").write_text("y\n")
    other, _ = inbox_run_requests(tmp_path, {})
    assert other[0].run_key != one[0].run_key


def test_touched_but_unchanged_file_is_not_ingested_again(tmp_path):
    path = tmp_path / "a.csv"
    path.write_text("x\n")
    first = _tick(tmp_path)
    path.write_text("x\n")  # same content, new mtime
    again = _tick(tmp_path, first.cursor)
    assert not again.run_requests


def test_a_file_still_changing_waits_for_the_settle_time(tmp_path):
    (tmp_path / "timesheets").mkdir()
    old = tmp_path / "timesheets" / "old.csv"
    fresh = tmp_path / "timesheets" / "fresh.csv"
    old.write_text("shift_id\nSH-1\n")
    fresh.write_text("shift_id\nSH-2\n")
    _age(old, 120)
    now = time.time()
    # the change time of both is now: only a clock 60 s ahead sees either settled
    early, cursor = inbox_run_requests(tmp_path, {}, settle_seconds=60, now=now)
    assert early == [] and cursor == {}
    later, cursor = inbox_run_requests(tmp_path, {}, settle_seconds=60, now=now + 61)
    assert later[0].run_config["ops"]["inbox_files"]["config"]["only_files"] == ["timesheets/fresh.csv",
                                                                                 "timesheets/old.csv"]
    fresh.write_text("shift_id\nSH-2\nSH-3\n")  # still being written: changed again
    waiting, cursor = inbox_run_requests(tmp_path, cursor, settle_seconds=60, now=time.time() + 30)
    assert waiting == [] and "timesheets/fresh.csv" in cursor
    settled, _ = inbox_run_requests(tmp_path, cursor, settle_seconds=60, now=time.time() + 61)
    assert settled[0].run_config["ops"]["inbox_files"]["config"]["only_files"] == ["timesheets/fresh.csv"]
