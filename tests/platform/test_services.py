"""Processes vigil starts are recorded per VIGIL_HOME and stopped with everything they
spawned; two commands starting localstripe at once start one."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import psutil

from tests.platform.test_session_cleanup import _processes_of


def test_concurrent_commands_start_one_localstripe_and_stop_stops_it(tmp_path):
    env = {**os.environ, "VIGIL_HOME": str(tmp_path / "home")}
    starter = "from vigil_app.demo.localstripe import ensure_localstripe; print(ensure_localstripe())"
    processes = [subprocess.Popen([sys.executable, "-c", starter], env=env, stdout=subprocess.PIPE, text=True)
                 for _ in range(3)]
    urls = {process.communicate(timeout=120)[0].strip() for process in processes}
    try:
        assert len(urls) == 1 and next(iter(urls)).startswith("http://127.0.0.1:")
        running = [line for line in _processes_of(str(tmp_path)) if "localstripe" in line]
        assert len(running) == 1, running
    finally:
        stop = subprocess.run([sys.executable, "-m", "vigil_app.cli", "stop"], env=env, capture_output=True,
                              text=True, timeout=120)
    assert stop.returncode == 0 and "localstripe" in stop.stderr, stop.stderr
    assert _processes_of(str(tmp_path)) == []


def test_stop_takes_the_whole_process_group(tmp_path, monkeypatch):
    from vigil import services

    monkeypatch.setenv("VIGIL_HOME", str(tmp_path / "home"))
    spawner = ("import subprocess, sys, time; "
               "subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(600)']); time.sleep(600)")
    service = services.start("group", [sys.executable, "-c", spawner])
    leader = psutil.Process(service.pid)
    deadline = time.monotonic() + 10
    while not leader.children() and time.monotonic() < deadline:
        time.sleep(0.1)
    members = [service.pid, *(child.pid for child in leader.children())]
    assert len(members) == 2
    assert services.running("group") == service
    assert services.stop_all() == ["group"]
    assert services.running("group") is None
    assert not any(psutil.pid_exists(pid) and psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
                   for pid in members)


def test_stop_ends_compute_log_tails_orphaned_by_a_killed_run(tmp_path):
    """A run worker killed with its watcher leaves Dagster's `tail -F` on its compute log:
    `vigil stop` ends the ones following a file of its VIGIL_HOME, and no other."""
    home = tmp_path / "home"
    logs = home / "dagster" / "storage" / "run-1" / "compute_logs"
    logs.mkdir(parents=True)
    (logs / "step.out").write_text("")
    elsewhere = tmp_path / "other.log"
    elsewhere.write_text("")
    # as Dagster's run worker leaves it: its own session, SIGTERM ignored (inherited)
    orphan = subprocess.Popen(["tail", "-F", "-c", "+0", str(logs / "step.out")], stdout=subprocess.DEVNULL,
                              start_new_session=True, preexec_fn=lambda: signal.signal(signal.SIGTERM, signal.SIG_IGN))
    unrelated = subprocess.Popen(["tail", "-F", "-c", "+0", str(elsewhere)], stdout=subprocess.DEVNULL,
                                 start_new_session=True)
    try:
        env = {**os.environ, "VIGIL_HOME": str(home)}
        stop = subprocess.run([sys.executable, "-m", "vigil_app.cli", "stop"], env=env, capture_output=True,
                              text=True, timeout=120)
        assert stop.returncode == 0, stop.stderr
        assert orphan.wait(timeout=10) is not None
        assert unrelated.poll() is None
    finally:
        for process in (orphan, unrelated):
            if process.poll() is None:
                process.kill()
                process.wait()
