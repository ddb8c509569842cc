"""A test session stops everything it started: after a session that started the embedded
server, localstripe and a process group (as `vigil ui` does), nothing of its VIGIL_HOME runs."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import psutil
import pytest

pytestmark = pytest.mark.integration  # the probe session starts the embedded server

PROBE = Path(__file__).parent / "session_probe"
ROOT = Path(__file__).resolve().parents[2]


def _processes_of(marker: str) -> list[str]:
    found = []
    for process in psutil.process_iter(["pid", "cmdline", "environ", "status"]):
        if process.info["status"] == psutil.STATUS_ZOMBIE:
            continue
        command = " ".join(process.info["cmdline"] or [])
        environ = process.info["environ"] or {}
        if marker in command or marker in environ.get("VIGIL_HOME", ""):
            found.append(f"{process.pid} {command[:120]}")
    return found


@pytest.fixture
def short_tmp():
    """A short folder for the probe's TMPDIR: its embedded server puts a unix socket under it,
    and socket paths are limited to 107 bytes (an xdist worker's tmp_path is longer)."""
    folder = Path(tempfile.mkdtemp(prefix="vigil-probe-"))
    yield folder
    shutil.rmtree(folder, ignore_errors=True)


def test_a_session_leaves_nothing_running(short_tmp):
    env = {**os.environ, "VIGIL_SESSION_PROBE": "1", "TMPDIR": str(short_tmp)}
    env.pop("VIGIL_HOME", None)
    env.pop("VIGIL_WAREHOUSE_DB", None)
    proc = subprocess.run([sys.executable, "-m", "pytest", str(PROBE), "-q", "-s", "-p", "no:cacheprovider"],
                          cwd=ROOT, env=env, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    home = next(line.split("=", 1)[1] for line in proc.stdout.splitlines() if line.startswith("VIGIL_HOME="))
    assert home.startswith(str(short_tmp))
    assert _processes_of(str(short_tmp)) == []
    assert not Path(home).exists()
