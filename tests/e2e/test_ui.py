"""`vigil ui` serves the code location without load errors, with the whole lineage and the dbt
checks; SIGTERM to the `vigil ui` process alone stops the webserver, daemon and code server."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import psutil
import pytest

pytestmark = [pytest.mark.e2e, pytest.mark.integration]

QUERY = """{ workspaceOrError { ... on Workspace { locationEntries { name loadStatus
  locationOrLoadError { __typename ... on PythonError { message }
    ... on RepositoryLocation { repositories { assetNodes { assetKey { path } hasAssetChecks } } } } } } } }"""


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _graphql(port: int) -> dict:
    request = urllib.request.Request(
        f"http://127.0.0.1:{port}/graphql", data=json.dumps({"query": QUERY}).encode(),
        headers={"Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=30) as response:
        return json.load(response)


def test_ui_loads_the_code_location(warehouse, tmp_path):
    port = _free_port()
    log = (tmp_path / "ui.log").open("w")
    proc = subprocess.Popen([str(Path(sys.executable).parent / "vigil"), "ui", "--port", str(port)],
                            stdout=log, stderr=subprocess.STDOUT, start_new_session=True, env={**os.environ})
    try:
        deadline = time.monotonic() + 180
        answer = None
        while time.monotonic() < deadline:
            assert proc.poll() is None, (tmp_path / "ui.log").read_text()
            try:
                answer = _graphql(port)
                entries = answer["data"]["workspaceOrError"]["locationEntries"]
                if entries and entries[0]["loadStatus"] == "LOADED":
                    break
            except OSError:
                pass
            time.sleep(2)
        location = answer["data"]["workspaceOrError"]["locationEntries"][0]["locationOrLoadError"]
        assert location["__typename"] == "RepositoryLocation", location
        nodes = location["repositories"][0]["assetNodes"]
        keys = {"/".join(n["assetKey"]["path"]) for n in nodes}
        assert {"raw/timesheets", "staging/stg_inbox__shifts", "marts/fct_guard_shifts", "marts/fct_findings",
                "billing/invoices", "delivery/invoice_messages", "payments/autopay_charges"} <= keys
        with_checks = {"/".join(n["assetKey"]["path"]) for n in nodes if n["hasAssetChecks"]}
        assert {"marts/fct_guard_shifts", "marts/fct_findings", "billing/invoices"} <= with_checks
        spawned = [child.pid for child in psutil.Process(proc.pid).children(recursive=True)]
        assert len(spawned) >= 3  # dagster dev, webserver, daemon, code server
        proc.send_signal(signal.SIGTERM)  # the process alone, as a service manager or `kill` would
        assert proc.wait(timeout=90) == 143
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and [pid for pid in spawned if _alive(pid)]:
            time.sleep(0.5)
        assert [pid for pid in spawned if _alive(pid)] == []
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
        log.close()


def _alive(pid: int) -> bool:
    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False
