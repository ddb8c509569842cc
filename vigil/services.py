"""Local peers the project starts itself: localstripe on loopback for demo and tests,
and the Dagster instance home under ``$VIGIL_HOME``."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

from vigil import config, db

DAGSTER_YAML = """\
# Written by vigil; storage is the dagster database on the same PostgreSQL server.
# The URL comes from the environment so no credential is ever written here.
storage:
  postgres:
    postgres_url:
      env: VIGIL_DAGSTER_PG_URL
run_coordinator:
  module: dagster.core.run_coordinator
  class: QueuedRunCoordinator
  config:
    max_concurrent_runs: 2
telemetry:
  enabled: false
"""


def prepare_instance() -> Path:
    """Database ready, DAGSTER_HOME pointing at our instance, storage URL in the environment."""
    params = db.prepare()
    home = config.paths().dagster_home
    home.mkdir(parents=True, exist_ok=True)
    yaml_path = home / "dagster.yaml"
    if not yaml_path.exists() or yaml_path.read_text() != DAGSTER_YAML:
        yaml_path.write_text(DAGSTER_YAML)
    os.environ["DAGSTER_HOME"] = str(home)
    os.environ["VIGIL_DAGSTER_PG_URL"] = params.sqlalchemy_url(params.dagster_db)
    return home


def _port_open(port: int) -> bool:
    with socket.socket() as sock:
        sock.settimeout(0.5)
        return sock.connect_ex(("127.0.0.1", port)) == 0


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except OSError:
        return False
    return True


def ensure_localstripe() -> str:
    """Start (or reuse) localstripe for this VIGIL_HOME; returns its base URL."""
    state_file = config.paths().services / "localstripe.json"
    if state_file.exists():
        state = json.loads(state_file.read_text())
        if _pid_alive(state["pid"]) and _port_open(state["port"]):
            return f"http://127.0.0.1:{state['port']}"
    state_file.parent.mkdir(parents=True, exist_ok=True)
    port = _free_port()
    log = open(state_file.parent / "localstripe.log", "ab")  # noqa: SIM115 - handed to the child
    proc = subprocess.Popen(
        [sys.executable, "-m", "vigil.localstripe_server", "--port", str(port)],
        stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=True,
    )
    deadline = time.monotonic() + 20
    while not _port_open(port):
        if proc.poll() is not None or time.monotonic() > deadline:
            raise RuntimeError(f"localstripe did not start; see {state_file.parent / 'localstripe.log'}")
        time.sleep(0.1)
    state_file.write_text(json.dumps({"pid": proc.pid, "port": port}))
    return f"http://127.0.0.1:{port}"


def stop_localstripe() -> None:
    state_file = config.paths().services / "localstripe.json"
    if not state_file.exists():
        return
    state = json.loads(state_file.read_text())
    if _pid_alive(state["pid"]):
        os.kill(state["pid"], 15)
    state_file.unlink()


def use_local_payment_provider() -> None:
    """Without a Stripe key, point the SDK at our own localstripe."""
    if not os.environ.get("STRIPE_API_KEY"):
        os.environ.setdefault("STRIPE_API_BASE", ensure_localstripe())
