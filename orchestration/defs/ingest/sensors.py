"""Notice new or changed inbox files and ingest each one once (run_key per file and content)."""

import hashlib
import json
from pathlib import Path

import dagster as dg

from orchestration.defs.ingest.assets import RAW_TABLES, raw_key
from orchestration.lib.resources import InboxResource

ingest_inbox_job = dg.define_asset_job(
    name="ingest_inbox_job",
    selection=dg.AssetSelection.assets(*[raw_key(t) for t in RAW_TABLES]),
    description="Ingest inbox files into the raw tables (started by the inbox sensor).",
)


def _fingerprint(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()[:16]


def inbox_run_requests(inbox_dir: Path, seen: dict[str, str]) -> tuple[list[dg.RunRequest], dict[str, str]]:
    """One run request per file that is new or changed since the cursor."""
    requests: list[dg.RunRequest] = []
    current = dict(seen)
    if not inbox_dir.exists():
        return requests, current
    for path in sorted(p for p in inbox_dir.rglob("*") if p.is_file() and not p.name.startswith(".")):
        rel = path.relative_to(inbox_dir).as_posix()
        stamp = f"{path.stat().st_mtime_ns}:{path.stat().st_size}"
        if seen.get(rel, "").startswith(stamp):
            continue
        digest = _fingerprint(path)
        current[rel] = f"{stamp}:{digest}"
        if seen.get(rel, "").endswith(digest):
            continue
        requests.append(
            dg.RunRequest(
                run_key=f"{rel}:{digest}",
                run_config={"ops": {"inbox_files": {"config": {"inbox": str(inbox_dir), "only_files": [rel]}}}},
                tags={"vigil/inbox_file": rel},
            )
        )
    return requests, current


@dg.sensor(job=ingest_inbox_job, minimum_interval_seconds=60, default_status=dg.DefaultSensorStatus.STOPPED)
def inbox_file_sensor(context: dg.SensorEvaluationContext, inbox: InboxResource):
    seen = json.loads(context.cursor) if context.cursor else {}
    requests, current = inbox_run_requests(inbox.resolve(), seen)
    if not requests:
        return dg.SensorResult(skip_reason=dg.SkipReason("no new inbox file"), cursor=json.dumps(current))
    return dg.SensorResult(run_requests=requests, cursor=json.dumps(current))
