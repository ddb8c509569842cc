"""The `vigil` command called in-process: the same code path as the console script, without
paying a new interpreter and Dagster import per call where a subprocess proves nothing."""

from __future__ import annotations

import contextlib
import io
import json
from pathlib import Path

from vigil_app.cli import main


def vigil(*args: str) -> str:
    """Run `vigil ARGS`; fail the test with its output unless it exits 0; return stdout."""
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main([str(a) for a in args])
    assert code == 0, f"vigil {' '.join(map(str, args))} exited {code}:\n{out.getvalue()}\n{err.getvalue()}"
    return out.getvalue()


def export(what: str, folder: Path, name: str | None = None) -> list[dict]:
    """`vigil export WHAT` as parsed JSON lines."""
    path = folder / f"{name or what}.jsonl"
    vigil("export", what, "--out", path)
    return [json.loads(line) for line in path.read_text().splitlines()]
