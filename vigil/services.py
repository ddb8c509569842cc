"""What vigil runs besides itself, and how it stops it.

The Dagster instance home lives under ``$VIGIL_HOME/dagster``. Every long-lived process vigil
starts (the Dagster UI with its daemon and code server, localstripe in the demo) runs in a
process group of its own, recorded in ``$VIGIL_HOME/services/<name>.json`` with its start time,
so `vigil stop` and the test session stop that group and everything it spawned, and never a
stranger that reused its pid. The embedded PostgreSQL server is stopped through pg_ctl
(vigil.db.stop_embedded)."""

from __future__ import annotations

import fcntl
import json
import os
import signal
import socket
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from pathlib import Path

from vigil import config, db

# The pool every step that writes the warehouse claims (dbt, billing, delivery, payments):
# one at a time across runs of this instance, `vigil run` and the daemon's alike.
WAREHOUSE_POOL = "vigil_warehouse"
# Runs tagged with it are started by the daemon's queue one at a time.
WAREHOUSE_RUN_TAG = "vigil/warehouse"

DAGSTER_YAML = f"""\
# Written by vigil; storage is the dagster database on the same PostgreSQL server.
# The URL comes from the environment so no credential is ever written here.
storage:
  postgres:
    postgres_url:
      env: VIGIL_DAGSTER_PG_URL
run_coordinator:
  module: dagster.core.run_coordinator
  class: QueuedRunCoordinator
concurrency:
  runs:
    max_concurrent_runs: 2
    # the daily billing runs the daemon queues start one after the other, in order
    tag_concurrency_limits:
      - key: {WAREHOUSE_RUN_TAG}
        limit: 1
  pools:
    # steps that write the warehouse (pool {WAREHOUSE_POOL}) run one at a time, also in
    # runs that `vigil run` executes in process
    default_limit: 1
# slots of a run that ended without freeing them (a killed worker) are freed after a while
run_monitoring:
  enabled: true
  free_slots_after_run_end_seconds: 300
telemetry:
  enabled: false
"""


# Dagster's run bookkeeping commits every event on its own, and a range run stores thousands:
# waiting for each commit's WAL flush was most of a run's time. Without it a server crash may
# lose the last fraction of a second of events (never a corrupt database); Vigil's ledger, in
# the warehouse database, keeps synchronous commits.
DAGSTER_SESSION_SETTINGS = {"synchronous_commit": "off"}


def prepare_instance() -> Path:
    """Database ready, DAGSTER_HOME pointing at our instance, storage URL in the environment."""
    params = db.prepare()
    home = config.paths().dagster_home
    home.mkdir(parents=True, exist_ok=True)
    yaml_path = home / "dagster.yaml"
    if not yaml_path.exists() or yaml_path.read_text() != DAGSTER_YAML:
        yaml_path.write_text(DAGSTER_YAML)
    os.environ["DAGSTER_HOME"] = str(home)
    os.environ["VIGIL_DAGSTER_PG_URL"] = params.sqlalchemy_url(params.dagster_db, DAGSTER_SESSION_SETTINGS)
    return home


# --------------------------------------------------------------------------- processes


@dataclass(frozen=True)
class Service:
    """A process group vigil started: its leader's pid (= the group id) and start time."""

    name: str
    pid: int
    started_at: float
    port: int | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"


def _state_file(name: str) -> Path:
    return config.paths().services / f"{name}.json"


def _process_start_time(pid: int) -> float | None:
    import psutil

    try:
        return psutil.Process(pid).create_time()
    except (psutil.NoSuchProcess, psutil.AccessDenied, psutil.ZombieProcess):
        return None


def _group_alive(pgid: int) -> bool:
    import psutil

    for process in psutil.process_iter(["pid"]):
        try:
            if os.getpgid(process.pid) == pgid and process.status() != psutil.STATUS_ZOMBIE:
                return True
        except (ProcessLookupError, psutil.NoSuchProcess, psutil.ZombieProcess):
            continue
    return False


def port_open(port: int) -> bool:
    with socket.socket() as sock:
        sock.settimeout(0.5)
        return sock.connect_ex(("127.0.0.1", port)) == 0


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def record(name: str, pid: int, port: int | None = None) -> Service:
    """Remember a process group leader vigil started, so it can be stopped later."""
    started = _process_start_time(pid) or time.time()
    service = Service(name, pid, started, port)
    path = _state_file(name)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(asdict(service)))
    return service


def running(name: str) -> Service | None:
    """The recorded service if its leader is still the process vigil started."""
    path = _state_file(name)
    if not path.exists():
        return None
    try:
        service = Service(**json.loads(path.read_text()))
    except (ValueError, TypeError):
        path.unlink(missing_ok=True)
        return None
    started = _process_start_time(service.pid)
    if started is None or abs(started - service.started_at) > 1:
        return None
    return service


@contextmanager
def exclusive(name: str) -> Iterator[None]:
    """One process at a time decides whether to start service `name` (two `vigil run`s at
    once must not both start one, the second overwriting the first's record)."""
    path = config.paths().services / f"{name}.lock"
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def start(name: str, argv: list[str], *, port: int | None = None, timeout: float = 30) -> Service:
    """Start `argv` in a new process group, log to services/<name>.log, wait for `port`."""
    log_path = config.paths().services / f"{name}.log"
    log_path.parent.mkdir(parents=True, exist_ok=True)
    with log_path.open("ab") as log:
        process = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                   start_new_session=True)
    service = record(name, process.pid, port)
    deadline = time.monotonic() + timeout
    while port is not None and not port_open(port):
        if process.poll() is not None or time.monotonic() > deadline:
            stop(name)
            raise RuntimeError(f"{name} did not start; see {log_path}")
        time.sleep(0.1)
    return service


def signal_group(service: Service, signum: int) -> None:
    try:
        os.killpg(service.pid, signum)
    except ProcessLookupError:
        pass


def stop_group(pgid: int, grace_seconds: float = 20) -> None:
    """SIGINT (Dagster's graceful shutdown), then SIGTERM, then SIGKILL to the whole group."""
    for signum, wait in ((signal.SIGINT, grace_seconds), (signal.SIGTERM, 5), (signal.SIGKILL, 5)):
        try:
            os.killpg(pgid, signum)
        except ProcessLookupError:
            return
        deadline = time.monotonic() + wait
        while time.monotonic() < deadline:
            if not _group_alive(pgid):
                return
            time.sleep(0.2)


def stop(name: str, grace_seconds: float = 20) -> bool:
    """Stop a recorded service and everything in its process group; True if it ran."""
    service = running(name)
    _state_file(name).unlink(missing_ok=True)
    if service is None:
        return False
    stop_group(service.pid, grace_seconds)
    return True


def _stop_orphaned_log_tails(home: Path) -> int:
    """Dagster mirrors a step's output with `tail -F <compute log>` and a watcher that ends
    the tail when the run's process dies; when both lose their parent at once (a killed run
    worker or process group) the tail is left following a file under this home forever."""
    import psutil

    tails = []
    for process in psutil.process_iter(["cmdline"]):
        command = process.info["cmdline"] or []
        if command[:2] == ["tail", "-F"] and any(arg.startswith(f"{home}{os.sep}") for arg in command[2:]):
            tails.append(process)
    for process in tails:
        try:
            process.kill()  # they inherit the run worker's ignored SIGTERM; a tail holds nothing to save
        except psutil.NoSuchProcess:  # ended since it was listed
            pass
    psutil.wait_procs(tails, timeout=5)
    return len(tails)


def stop_all() -> list[str]:
    """Stop every service of this VIGIL_HOME, then its embedded server; returns what ran."""
    stopped = []
    folder = config.paths().services
    for path in sorted(folder.glob("*.json")) if folder.is_dir() else []:
        if stop(path.stem):
            stopped.append(path.stem)
    if _stop_orphaned_log_tails(config.paths().home):
        stopped.append("compute log tails")
    if db.stop_embedded():
        stopped.append("postgresql")
    return stopped
