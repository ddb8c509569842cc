"""Notice new or changed inbox files and ingest them: one run per tick for every file that
is new and has settled (left unchanged for the inbox's settle time), run_key from the batch's
paths and contents, so the same batch is never ingested twice and a tick never starts a run
per file."""

import hashlib
import json
import time
from pathlib import Path

import dagster as dg

from orchestration.defs.ingest.assets import RAW_TABLES, raw_key
from orchestration.lib.resources import InboxResource

ingest_inbox_job = dg.define_asset_job(
    name="ingest_inbox_job",
    selection=dg.AssetSelection.assets(*[raw_key(t) for t in RAW_TABLES]),
    description="Ingest inbox files into the raw tables (started by the inbox sensor).",
)

BATCH_TAG = "vigil/inbox_files"


def _fingerprint(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()[:16]


def inbox_run_requests(inbox_dir: Path, seen: dict[str, str], settle_seconds: float = 0,
                       now: float | None = None) -> tuple[list[dg.RunRequest], dict[str, str]]:
    """At most one run request: every file new or changed since the cursor that has settled.
    A file still changing is left out of the cursor, so a later tick looks at it again."""
    from connectors.inbox import list_inbox

    now = time.time() if now is None else now
    current = dict(seen)
    batch: list[tuple[str, str]] = []
    for inbox_file in list_inbox(inbox_dir):
        stamp = f"{inbox_file.mtime_ns}:{inbox_file.size}"
        if seen.get(inbox_file.rel, "").startswith(stamp + ":"):
            continue
        if not inbox_file.settled(now, settle_seconds):
            continue
        digest = _fingerprint(inbox_file.path)
        current[inbox_file.rel] = f"{stamp}:{digest}"
        if seen.get(inbox_file.rel, "").endswith(":" + digest):
            continue
        batch.append((inbox_file.rel, digest))
    if not batch:
        return [], current
    key = hashlib.sha256("\n".join(f"{rel}:{digest}" for rel, digest in batch).encode()).hexdigest()[:24]
    request = dg.RunRequest(
        run_key=f"inbox:{key}",
        run_config={"ops": {"inbox_files": {"config": {"inbox": str(inbox_dir),
                                                       "only_files": [rel for rel, _ in batch],
                                                       "settle_seconds": 0}}}},
        tags={BATCH_TAG: str(len(batch))},
    )
    return [request], current


@dg.sensor(job=ingest_inbox_job, minimum_interval_seconds=60, default_status=dg.DefaultSensorStatus.STOPPED)
def inbox_file_sensor(context: dg.SensorEvaluationContext, inbox: InboxResource):
    seen = json.loads(context.cursor) if context.cursor else {}
    requests, current = inbox_run_requests(inbox.resolve(), seen, inbox.settle())
    if not requests:
        return dg.SensorResult(skip_reason=dg.SkipReason("no new settled inbox file"), cursor=json.dumps(current))
    return dg.SensorResult(run_requests=requests, cursor=json.dumps(current))
