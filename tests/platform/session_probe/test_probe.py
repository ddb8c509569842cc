"""Not a test of its own: tests/platform/test_session_cleanup.py runs this folder as a test
session (VIGIL_SESSION_PROBE=1) that starts what test sessions start, then checks that the
session left nothing of its VIGIL_HOME running."""

from __future__ import annotations

import os
import sys

import pytest

pytestmark = pytest.mark.skipif(os.environ.get("VIGIL_SESSION_PROBE") != "1",
                                reason="run by tests/platform/test_session_cleanup.py")


def test_start_what_sessions_start(warehouse):
    from vigil import services
    from vigil_app.demo.localstripe import ensure_localstripe

    ensure_localstripe()
    # a process group with a child of its own, as `vigil ui` (dagster dev and its servers) is
    spawner = ("import subprocess, sys, time; "
               "subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(600)']); time.sleep(600)")
    services.start("probe", [sys.executable, "-c", spawner])
    print(f"VIGIL_HOME={os.environ['VIGIL_HOME']}")
