"""The whole pipeline at company scale: a cold range, then one more day, after N days of history.

    .venv/bin/python benchmarks/bench_pipeline.py [--runs S:30,S:365,L:7] [--repeat 3]
                                                  [--events-per-day N] [--payments off|local] [--work DIR]

For each run SCALE:H (scale S, M or L, H days of history): a fresh VIGIL_HOME (its own
embedded PostgreSQL), an inbox with H days of a synthetic company
(benchmarks/pipeline_company.py: one file per source per day), `vigil run --through <day H>`
(the cold range), then `--repeat` times one more day's files and `vigil run --from D
--through D`, each as its own process, the way a user or the schedule runs it. Per stage
(ingest, dbt, rating, issuing, delivery, payments, checks, and the rest: process start,
definitions, run bookkeeping) the seconds come from Dagster's step statistics of those runs
and the invoices asset's metadata; the peak memory per stage is the largest sum of
proportional set sizes of the `vigil` process tree (dbt included) and the PostgreSQL
server's processes sampled during the stage. Prints one JSON line per run and a summary line
with the medians, the ratio of the one-more-day medians of the longest to the shortest
history of each scale, and the L-scale day when L ran.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import replace
from datetime import timedelta
from pathlib import Path

import psutil

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(HERE))

from pipeline_company import SCALES, build_company, write_day, write_history  # noqa: E402

STEP_STAGES = {
    "inbox_files": "ingest",
    "vigil_dbt_models": "dbt",
    "billing__invoices": "issuing",
    "delivery__invoice_messages": "delivery",
    "payments__autopay_charges": "payments",
}
STAGES = ("ingest", "dbt", "rating", "issuing", "delivery", "payments", "checks", "other")

# Read in a child process (which imports Dagster and owns the instance): the steps of the
# runs started at or after a time, and the invoices asset's timing metadata.
_STATS = """
import json, sys
from vigil import services
services.prepare_instance()
from dagster import AssetKey, DagsterEventType, DagsterInstance, EventRecordsFilter
since = float(sys.argv[1])
instance = DagsterInstance.get()
steps, rating, cycles = [], 0.0, []
for run in instance.get_runs(limit=20):
    stats = instance.get_run_stats(run.run_id)
    if stats.start_time is None or stats.start_time < since:
        continue
    for step in instance.get_run_step_stats(run.run_id):
        steps.append([step.step_key, step.start_time, step.end_time])
    # a range run materializes the asset once per day with the same metadata: read one
    for record in instance.get_event_records(EventRecordsFilter(
            DagsterEventType.ASSET_MATERIALIZATION, asset_key=AssetKey(["billing", "invoices"])), limit=400):
        if record.event_log_entry.run_id == run.run_id:
            meta = record.event_log_entry.dagster_event.materialization.metadata
            if "rating_seconds" in meta:
                rating += meta["rating_seconds"].value
            if "cycles_read" in meta:
                cycles.append(meta["cycles_read"].value)
            break
from vigil import db
builds = []
with db.connect() as conn, conn.cursor() as cur:
    cur.execute("select to_regclass('vigil_meta.mart_builds')")
    if cur.fetchone()[0] is not None:
        cur.execute("select mode from vigil_meta.mart_builds where started_at >= to_timestamp(%s) order by build_id",
                    (since,))
        builds = [mode for (mode,) in cur.fetchall()]
print(json.dumps({"steps": steps, "rating": rating, "cycles": cycles, "builds": builds}))
"""


class Sampler:
    """PSS of a process tree plus the PostgreSQL server's processes, four times a second."""

    def __init__(self, home: Path):
        self.home = home
        self.samples: list[tuple[float, int]] = []
        self.root: psutil.Process | None = None
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _postgres(self) -> list[psutil.Process]:
        pid_file = self.home / "pgdata" / "postmaster.pid"
        try:
            leader = psutil.Process(int(pid_file.read_text().split()[0]))
            return [leader, *leader.children(recursive=True)]
        except (OSError, ValueError, psutil.Error):
            return []

    @staticmethod
    def _size(process: psutil.Process) -> int:
        try:
            info = process.memory_full_info()
            return getattr(info, "pss", info.rss)
        except psutil.Error:
            return 0

    def _run(self) -> None:
        while not self._stop.is_set():
            processes = self._postgres()
            if self.root is not None:
                try:
                    processes += [self.root, *self.root.children(recursive=True)]
                except psutil.Error:
                    pass
            self.samples.append((time.time(), sum(self._size(p) for p in processes)))
            self._stop.wait(0.25)

    def __enter__(self) -> Sampler:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()

    def peak_mb(self, start: float, end: float) -> float:
        inside = [size for at, size in self.samples if start - 0.3 <= at <= end + 0.3]
        return round(max(inside, default=0) / 2**20, 1)


def _vigil(env: dict, sampler: Sampler, *args: str) -> float:
    started = time.time()
    process = subprocess.Popen([env["BENCH_VIGIL"], *args], env=env, stdout=subprocess.PIPE,
                               stderr=subprocess.STDOUT, text=True)
    sampler.root = psutil.Process(process.pid)
    output, _ = process.communicate()
    sampler.root = None
    if process.returncode != 0:
        sys.stderr.write(output[-4000:])
        raise SystemExit(f"vigil {' '.join(args)} failed with exit code {process.returncode}")
    return time.time() - started


def _measure(env: dict, sampler: Sampler, label: str, *args: str) -> dict:
    started = time.time()
    wall = _vigil(env, sampler, *args)
    ended = time.time()
    stats = json.loads(subprocess.run([env["BENCH_PYTHON"], "-c", _STATS, str(started)], env=env, check=True,
                                      capture_output=True, text=True).stdout.strip().splitlines()[-1])
    seconds = dict.fromkeys(STAGES, 0.0)
    windows: dict[str, list[tuple[float, float]]] = {stage: [] for stage in STAGES}
    for key, begin, end in stats["steps"]:
        stage = STEP_STAGES.get(key, "checks")
        seconds[stage] += end - begin
        windows[stage].append((begin, end))
    seconds["rating"] = stats["rating"]
    seconds["issuing"] = max(seconds["issuing"] - stats["rating"], 0.0)
    seconds["other"] = max(wall - sum(seconds[s] for s in STAGES if s != "other"), 0.0)
    windows["rating"] = windows["issuing"]
    windows["other"] = [(started, ended)]
    peaks = {stage: max((sampler.peak_mb(b, e) for b, e in windows[stage]), default=0.0) for stage in STAGES}
    return {"run": label, "seconds": round(wall, 2), "stages": {s: round(v, 2) for s, v in seconds.items()},
            "peak_mb": peaks, "load": round(os.getloadavg()[0], 2), "dbt_builds": stats["builds"],
            "billing_cycles_read": stats["cycles"]}


def bench_history(scale_name: str, history: int, repeat: int, events: int | None, payments: str,
                  work: Path, root: Path = ROOT) -> list[dict]:
    scale = SCALES[scale_name]
    if events is not None:
        scale = replace(scale, events_per_day=events)
    company = build_company(scale)
    folder = work / f"{scale_name}-{history}"
    shutil.rmtree(folder, ignore_errors=True)
    home, inbox = folder / "home", folder / "inbox"
    last = company.first_day + timedelta(days=history - 1)
    write_history(company, inbox, history)
    env = {**os.environ, "VIGIL_HOME": str(home), "VIGIL_PAYMENTS": payments,
           "BENCH_VIGIL": str(root / ".venv" / "bin" / "vigil"), "BENCH_PYTHON": str(root / ".venv" / "bin" / "python")}
    env.pop("DATABASE_URL", None)
    results = []
    try:
        with Sampler(home) as sampler:
            env["VIGIL_TODAY"] = last.isoformat()
            cold = _measure(env, sampler, "cold", "run", "--inbox", str(inbox), "--through", last.isoformat())
            results.append({"scale": scale_name, "history": history, "days": history, **cold})
            print(json.dumps(results[-1]), flush=True)
            for n in range(1, repeat + 1):
                day = last + timedelta(days=n)
                write_day(company, inbox, day)
                env["VIGIL_TODAY"] = day.isoformat()
                one = _measure(env, sampler, "day", "run", "--inbox", str(inbox), "--from", day.isoformat(),
                               "--through", day.isoformat())
                results.append({"scale": scale_name, "history": history, "days": history + n, **one})
                print(json.dumps(results[-1]), flush=True)
    finally:
        subprocess.run([env["BENCH_VIGIL"], "stop"], env=env, capture_output=True)
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    # The default fits in about half an hour on 2 cores: the S year shows whether a day's cost
    # grows with history, and the L day (after a week: its cost no longer depends on history)
    # the large company. M, and L after 30 or 365 days, take hours: pass --runs.
    parser.add_argument("--runs", default="S:30,S:365,L:7",
                        help="comma-separated SCALE:DAYS (default S:30,S:365,L:7)")
    parser.add_argument("--repeat", type=int, default=3, help="one-more-day runs per history (median)")
    parser.add_argument("--events-per-day", type=int, default=None, help="AMAG access events a day")
    parser.add_argument("--payments", choices=("off", "local"), default="off")
    parser.add_argument("--work", type=Path, default=None, help="keep inboxes and homes here (default: a temp dir)")
    parser.add_argument("--root", type=Path, default=ROOT, help="the checkout whose .venv runs `vigil` (default: this)")
    args = parser.parse_args()
    work = args.work or Path(tempfile.mkdtemp(prefix="vigil-bench-"))
    work.mkdir(parents=True, exist_ok=True)
    runs = [(part.split(":")[0], int(part.split(":")[1])) for part in args.runs.split(",")]
    for scale_name in dict.fromkeys(name for name, _ in runs):
        company = build_company(SCALES[scale_name])
        print(json.dumps({"scale": scale_name, "sites": len(company.sites), "guards": company.guards,
                          "shifts_per_day": company.shifts_per_day(), "devices": len(company.devices),
                          "events_per_day": args.events_per_day or SCALES[scale_name].events_per_day,
                          "cpus": os.cpu_count()}), flush=True)
    summary: dict = {}
    days_by_scale: dict[str, dict[int, float]] = {}
    try:
        for scale_name, history in runs:
            results = bench_history(scale_name, history, args.repeat, args.events_per_day, args.payments, work,
                                    args.root.resolve())
            days = [r for r in results if r["run"] == "day"]
            label = f"{scale_name}{history}"
            summary[f"{label}_cold_seconds"] = results[0]["seconds"]
            summary[f"{label}_day_seconds"] = round(statistics.median(r["seconds"] for r in days), 2)
            # the worst day too: a Monday closes every weekly cycle, and its invoices are rendered then
            summary[f"{label}_day_max_seconds"] = max(r["seconds"] for r in days)
            summary[f"{label}_day_stages"] = {
                s: round(statistics.median(r["stages"][s] for r in days), 2) for s in STAGES}
            summary[f"{label}_day_peak_mb"] = max(max(r["peak_mb"].values()) for r in days)
            days_by_scale.setdefault(scale_name, {})[history] = summary[f"{label}_day_seconds"]
        for scale_name, by_history in days_by_scale.items():
            if len(by_history) > 1:
                short, long = min(by_history), max(by_history)
                summary[f"{scale_name}_day{long}_over_day{short}"] = round(by_history[long] / by_history[short], 2)
        if "L" in days_by_scale:
            summary["L_day_seconds"] = days_by_scale["L"][min(days_by_scale["L"])]
            summary["L_day_max_seconds"] = summary[f"L{min(days_by_scale['L'])}_day_max_seconds"]
    finally:
        if args.work is None:
            shutil.rmtree(work, ignore_errors=True)
    print(json.dumps({"summary": summary}), flush=True)


if __name__ == "__main__":
    main()
