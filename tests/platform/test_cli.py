"""The command line's contract for bad input: one line on stderr, `vigil: <what>`, an exit
code per kind (vigil_app.cli.EXIT_CODES), no traceback, and nothing started before the
input is checked; help text on every command and option."""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
from pathlib import Path

import pytest

from vigil_app.cli import EXIT_CODES, build_parser

VIGIL = str(Path(sys.executable).parent / "vigil")


def _vigil(env: dict, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([VIGIL, *args], env=env, capture_output=True, text=True, timeout=300)


def _one_line_error(proc: subprocess.CompletedProcess, kind: str, text: str) -> None:
    assert proc.returncode == EXIT_CODES[kind], (proc.returncode, proc.stderr)
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("vigil: "), proc.stderr
    assert text in lines[0], lines[0]


@pytest.fixture
def fresh_home(tmp_path):
    """A VIGIL_HOME nobody has used: whatever a command starts would show up in it."""
    home = tmp_path / "home"
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "VIGIL_WAREHOUSE_DB")}
    return home, {**env, "VIGIL_HOME": str(home)}


def test_every_command_and_option_has_help():
    commands, missing = [], []

    def walk(parser: argparse.ArgumentParser, path: str) -> None:
        commands.append(path)
        for action in parser._actions:
            if isinstance(action, argparse._SubParsersAction):
                missing.extend(f"{path} {choice.dest}" for choice in action._choices_actions if not choice.help)
                for name, sub in action.choices.items():
                    walk(sub, f"{path} {name}")
            elif not action.help:
                missing.append(f"{path} {action.dest}")

    walk(build_parser(), "vigil")
    assert set(commands) >= {"vigil run", "vigil demo", "vigil export", "vigil findings list",
                             "vigil findings resolve", "vigil ui", "vigil stop"}
    assert missing == []


def test_missing_inbox_is_refused_before_anything_starts(fresh_home, tmp_path):
    home, env = fresh_home
    proc = _vigil(env, "run", "--inbox", str(tmp_path / "nope"), "--through", "2026-10-19")
    _one_line_error(proc, "bad input", "is not a directory")
    assert not (home / "pgdata").exists() and not (home / "services").exists()


def test_bad_dates_are_one_line_usage_errors(fresh_home, tmp_path):
    _, env = fresh_home
    proc = _vigil(env, "run", "--inbox", str(tmp_path), "--through", "2026-13-01")
    _one_line_error(proc, "bad input", "'2026-13-01' is not a YYYY-MM-DD date")
    proc = _vigil(env, "run", "--inbox", str(tmp_path), "--from", "2026-10-20", "--through", "2026-10-19")
    _one_line_error(proc, "bad input", "--from 2026-10-20 is after --through 2026-10-19")


def test_csv_is_refused_where_an_export_has_only_json_lines(fresh_home, tmp_path):
    home, env = fresh_home
    proc = _vigil(env, "export", "renewals", "--format", "csv", "--out", str(tmp_path / "renewals.csv"))
    _one_line_error(proc, "bad input", "--format csv is for invoices and collections; renewals are written as JSON")
    assert not (tmp_path / "renewals.csv").exists() and not (home / "pgdata").exists()


def test_a_day_not_over_is_refused(fresh_home, tmp_path):
    home, env = fresh_home
    proc = _vigil(env, "run", "--inbox", str(tmp_path), "--through", "2099-01-01")
    _one_line_error(proc, "day not over", "--through 2099-01-01 is not over yet")
    assert not (home / "pgdata").exists()
    proc = _vigil({**env, "VIGIL_TODAY": "2026-10-10"}, "run", "--inbox", str(tmp_path), "--through", "2026-10-11")
    _one_line_error(proc, "day not over", "--through 2026-10-11 is after VIGIL_TODAY 2026-10-10")


def test_bad_settings_name_the_variable(fresh_home, tmp_path):
    _, env = fresh_home
    proc = _vigil({**env, "VIGIL_PAYMENTS": "maybe"}, "run", "--inbox", str(tmp_path), "--through", "2026-10-19")
    _one_line_error(proc, "bad input", "VIGIL_PAYMENTS='maybe'")
    proc = _vigil({**env, "VIGIL_PAYMENTS": "stripe"}, "run", "--inbox", str(tmp_path), "--through", "2026-10-19")
    _one_line_error(proc, "bad input", "VIGIL_PAYMENTS=stripe needs STRIPE_API_KEY")


def test_unreachable_database_url_is_one_line_without_the_password(fresh_home, tmp_path):
    _, env = fresh_home
    url = "postgresql://billing:s3cret@127.0.0.1:9/vigil?connect_timeout=2"
    proc = _vigil({**env, "DATABASE_URL": url}, "run", "--inbox", str(tmp_path), "--through", "2026-10-19")
    _one_line_error(proc, "database unreachable", "cannot connect to PostgreSQL at billing@127.0.0.1:9/")
    assert "s3cret" not in proc.stderr
    proc = _vigil({**env, "DATABASE_URL": url}, "export", "invoices", "--out", str(tmp_path / "x.jsonl"))
    _one_line_error(proc, "database unreachable", "cannot connect to PostgreSQL")


@pytest.mark.integration
def test_export_before_anything_was_built(warehouse, tmp_path):
    env = {**os.environ, "VIGIL_WAREHOUSE_DB": "t_never_built"}
    for what in ("invoices", "findings", "quarantine"):
        proc = _vigil(env, "export", what, "--out", str(tmp_path / f"{what}.jsonl"))
        _one_line_error(proc, "nothing built yet", "nothing built yet")
        assert not (tmp_path / f"{what}.jsonl").exists()
    proc = _vigil(env, "findings", "list")
    _one_line_error(proc, "nothing built yet", "run `vigil run")
    proc = _vigil(env, "export", "invoices", "--out", str(tmp_path))
    _one_line_error(proc, "bad input", "is a folder")


def test_vigil_today_allows_a_day_the_wall_clock_has_not_reached(monkeypatch, tmp_path):
    from datetime import date

    from vigil import clock
    from vigil_app.pipeline import DayNotOver, check_day_over, check_inputs

    monkeypatch.setenv("VIGIL_TODAY", "2099-01-01")
    assert check_inputs(tmp_path, None, date(2099, 1, 1)) == tmp_path.resolve()
    business = clock.BusinessClock("UTC", ("America/Los_Angeles",), clock.vigil_today())
    check_day_over(business, date(2099, 1, 1))
    with pytest.raises(DayNotOver, match="after VIGIL_TODAY 2099-01-01"):
        check_day_over(business, date(2099, 1, 2))
