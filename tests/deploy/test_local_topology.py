"""The deployment's topology as local processes against one PostgreSQL: a gRPC code server
(the user code container / Deployment), the Dagster webserver and daemon, and a run worker
the daemon launches. The instance is docker/dagster.yaml (queued runs, pools, run monitoring,
default launcher) with only its storage address and log folder changed to this machine's.

A run submitted through the webserver's GraphQL API waits in the queue, the daemon dequeues
it, the launcher starts a run worker through the code server, and the run ingests an inbox
into the warehouse: the same path a scheduled day takes in a deployment."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

from tests.e2e.inbox_fixture import write_inbox

pytestmark = pytest.mark.e2e

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent


def _wait_for(predicate, what: str, timeout: float, processes: dict) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        for name, (process, log) in processes.items():
            if process.poll() is not None:
                raise AssertionError(f"{name} exited {process.returncode} waiting for {what}:\n"
                                     f"{log.read_text()[-3000:]}")
        if time.monotonic() > deadline:
            logs = "\n".join(f"--- {name}\n{log.read_text()[-1500:]}" for name, (_, log) in processes.items())
            raise AssertionError(f"timed out after {timeout} s waiting for {what}\n{logs}")
        time.sleep(0.5)


@pytest.fixture(scope="module")
def topology(warehouse, tmp_path_factory):
    """Code server, webserver and daemon started as the deployment starts them; stopped after."""
    from vigil import services

    folder = tmp_path_factory.mktemp("topology")
    home = folder / "dagster_home"
    home.mkdir()
    instance = yaml.safe_load((ROOT / "docker" / "dagster.yaml").read_text(encoding="utf-8"))
    # only where things are differs from the compose deployment: the storage address (the
    # embedded server listens on a unix socket) and the compute log folder
    instance["storage"] = {"postgres": {"postgres_url": {"env": "VIGIL_TOPOLOGY_DAGSTER_URL"}}}
    instance["compute_logs"]["config"]["base_dir"] = str(home / "storage" / "compute_logs")
    (home / "dagster.yaml").write_text(yaml.safe_dump(instance))
    code_port, web_port = services.free_port(), services.free_port()
    workspace = yaml.safe_load((ROOT / "docker" / "workspace.yaml").read_text(encoding="utf-8"))
    workspace["load_from"][0]["grpc_server"].update(host="127.0.0.1", port=code_port)
    (home / "workspace.yaml").write_text(yaml.safe_dump(workspace))

    database_url = (f"postgresql://{warehouse.user}@/{warehouse.warehouse_db}"
                    f"?host={warehouse.host}&port={warehouse.port}")
    env = {key: value for key, value in os.environ.items() if key not in ("VIGIL_WAREHOUSE_DB", "DAGSTER_HOME")}
    env.update(DAGSTER_HOME=str(home), DATABASE_URL=database_url,
               VIGIL_TOPOLOGY_DAGSTER_URL=warehouse.sqlalchemy_url(warehouse.dagster_db))
    commands = {
        "code server": [str(BIN / "dagster"), "code-server", "start", "-h", "127.0.0.1", "-p", str(code_port),
                        "-m", "orchestration.definitions", "-d", str(ROOT)],
        "webserver": [str(BIN / "dagster-webserver"), "-h", "127.0.0.1", "-p", str(web_port),
                      "-w", str(home / "workspace.yaml")],
        "daemon": [str(BIN / "dagster-daemon"), "run", "-w", str(home / "workspace.yaml")],
    }
    processes = {}
    try:
        for name, argv in commands.items():
            log = folder / f"{name.replace(' ', '_')}.log"
            with log.open("wb") as out:
                process = subprocess.Popen(argv, cwd=home, env=env, stdout=out, stderr=subprocess.STDOUT,
                                           stdin=subprocess.DEVNULL, start_new_session=True)
            processes[name] = (process, log)
            if name == "code server":  # the webserver and daemon load the location from it
                _wait_for(lambda: services.port_open(code_port), "the code server", 180, processes)
        _wait_for(lambda: services.port_open(web_port), "the webserver", 120, processes)
        yield {"web_port": web_port, "processes": processes, "home": home, "folder": folder}
    finally:
        for process, _ in processes.values():
            services.stop_group(process.pid, grace_seconds=10)
            process.wait(timeout=30)


def test_a_run_queued_through_the_webserver_is_launched_by_the_daemon_and_completes(topology, warehouse):
    from dagster import DagsterInstance, DagsterRunStatus
    from dagster_graphql import DagsterGraphQLClient

    inbox = write_inbox(topology["folder"] / "inbox")
    client = DagsterGraphQLClient("127.0.0.1", port_number=topology["web_port"])
    run_id = client.submit_job_execution(
        "ingest_inbox_job", repository_location_name="vigil",
        # the files were written just now: read them now rather than after the settle time
        run_config={"ops": {"inbox_files": {"config": {"inbox": str(inbox), "only_files": [], "settle_seconds": 0}}}},
    )
    finished = {DagsterRunStatus.SUCCESS, DagsterRunStatus.FAILURE, DagsterRunStatus.CANCELED}
    _wait_for(lambda: client.get_run_status(run_id) in finished, f"run {run_id}", 300, topology["processes"])
    assert client.get_run_status(run_id) == DagsterRunStatus.SUCCESS

    os.environ["VIGIL_TOPOLOGY_DAGSTER_URL"] = warehouse.sqlalchemy_url(warehouse.dagster_db)
    saved_home = os.environ.get("DAGSTER_HOME")
    os.environ["DAGSTER_HOME"] = str(topology["home"])
    try:
        with DagsterInstance.get() as instance:
            events = list(instance.all_logs(run_id))
            run = instance.get_run_by_id(run_id)
    finally:
        if saved_home is None:
            os.environ.pop("DAGSTER_HOME")
        else:
            os.environ["DAGSTER_HOME"] = saved_home
    kinds = [event.dagster_event.event_type_value for event in events if event.dagster_event]
    # queued by the webserver, launched by the daemon (only it dequeues), run by a worker process
    assert kinds.index("PIPELINE_ENQUEUED") < kinds.index("PIPELINE_STARTING") < kinds.index("PIPELINE_START")
    assert "PIPELINE_SUCCESS" in kinds and "PIPELINE_FAILURE" not in kinds
    launched = [event.message for event in events if "Started process for run" in (event.message or "")]
    assert launched, "the default launcher starts a run worker process"
    assert run.job_name == "ingest_inbox_job"

    from vigil import db

    with db.transaction() as conn, conn.cursor() as cur:
        cur.execute("select count(*) from raw.timesheets")
        assert cur.fetchone()[0] > 0  # the worker wrote the warehouse this session reads
