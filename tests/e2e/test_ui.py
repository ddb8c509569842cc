"""`vigil ui` serves the code location without load errors, with the whole lineage and the dbt checks."""

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
    finally:
        os.killpg(proc.pid, signal.SIGINT)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
        log.close()
