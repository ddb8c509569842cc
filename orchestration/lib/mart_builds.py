"""Which dbt build a run makes, full or incremental, and its record in vigil_meta.mart_builds
(0051_incremental_marts.sql): the dbt models read the running build's `since` (macros/
incremental.sql), so only what was ingested or reviewed after the last successful build is
recomputed.

A build is full when there is no successful build yet, when an input every record depends on
changed since the last one (the contract documents, the tax table, the dbt project itself),
and periodically (VIGIL_FULL_BUILD_DAYS): then the marts' digests are taken before (the
incremental result) and after (the full one), and the asset check `incremental_matches_full`
compares them."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from vigil import config

# marts compared after a periodic full build, each digested per service date
COMPARED = {
    "fct_guard_shifts": "service_date",
    "fct_patrol_tours": "service_date",
    "fct_incident_responses": "service_date",
    "fct_devices": None,
    "fct_findings": "service_date",
}
_PROJECT_FOLDERS = ("models", "macros", "tests", "seeds")


@dataclass(frozen=True)
class Build:
    build_id: int
    mode: str  # full | incremental
    reason: str
    since: datetime


def project_fingerprint(project_dir: Path) -> str:
    """sha256 over the dbt project's files: a changed model means every row may change."""
    digest = hashlib.sha256()
    files = [project_dir / "dbt_project.yml"]
    for folder in _PROJECT_FOLDERS:
        files += sorted(p for p in (project_dir / folder).rglob("*") if p.is_file())
    for path in files:
        if path.exists():
            digest.update(path.relative_to(project_dir).as_posix().encode())
            digest.update(path.read_bytes())
    return digest.hexdigest()


def current_inputs(cur, project_dir: Path) -> dict[str, str]:
    """What every record depends on: when one differs from the last build's, a build is full."""
    cur.execute("select coalesce(max(document_id), 0) from raw.contract_documents")
    contracts = str(cur.fetchone()[0])
    cur.execute("select file_sha256 from raw.tax_rates order by ingested_at desc, file_sha256 desc limit 1")
    tax = cur.fetchone()
    return {"contracts": contracts, "tax": tax[0] if tax else "", "dbt_project": project_fingerprint(project_dir)}


def _watermark(cur) -> datetime:
    """Now, or the start of the oldest transaction still open on this database: a row it
    writes carries its start as ingested_at and may commit after this build has read, so the
    next build reads from there."""
    cur.execute(
        """select least(now(), coalesce(min(xact_start), now())) from pg_stat_activity
           where datname = current_database() and pid <> pg_backend_pid() and xact_start is not null"""
    )
    return cur.fetchone()[0]


def digests(cur) -> dict[str, dict[str, str]]:
    """Per compared mart, per service date, an md5 of its rows (as text, in a stable order)."""
    out: dict[str, dict[str, str]] = {}
    for table, bucket in COMPARED.items():
        key = f"coalesce({bucket}::text, '-')" if bucket else "'all'"
        cur.execute("select to_regclass(%s)", (f"marts.{table}",))
        if cur.fetchone()[0] is None:
            continue
        cur.execute(f"""select {key}, md5(string_agg(md5(t::text), '' order by md5(t::text))), count(*)
                        from marts.{table} as t group by 1 order by 1""")
        out[table] = {day: f"{digest}:{rows}" for day, digest, rows in cur.fetchall()}
    return out


def start_build(conn, project_dir: Path, now: datetime | None = None, force_full: str | None = None) -> Build:
    """Decide the build, record it as running, commit (dbt reads it), return it. `force_full`
    (a reason) makes it a full build whatever changed."""
    now = now or datetime.now(UTC)
    with conn, conn.cursor() as cur:
        cur.execute("select pg_advisory_xact_lock(hashtext('vigil.mart_builds'))")
        # one build at a time (the warehouse pool): a build still running was interrupted
        cur.execute("update vigil_meta.mart_builds set status = 'failed', finished_at = now() "
                    "where status = 'running'")
        cur.execute("""select watermark, inputs from vigil_meta.mart_builds where status = 'succeeded'
                       order by build_id desc limit 1""")
        last = cur.fetchone()
        cur.execute("""select started_at from vigil_meta.mart_builds where status = 'succeeded' and mode = 'full'
                       order by build_id desc limit 1""")
        last_full = cur.fetchone()
        inputs = current_inputs(cur, project_dir)
        changed = [name for name in inputs if last is not None and last[1].get(name) != inputs[name]]
        periodic = last_full is None or last_full[0] <= now - timedelta(days=config.full_build_days())
        since = last[0] if last is not None else datetime.min.replace(tzinfo=UTC)
        before = None
        if last is None:
            mode, reason = "full", "first build"
        elif force_full:
            mode, reason = "full", force_full
        elif changed:
            mode, reason = "full", f"{', '.join(n.replace('_', ' ') for n in changed)} changed"
        elif periodic:
            mode, reason = "full", f"periodic (at least every {config.full_build_days():g} days)"
            before = digests(cur)
        else:
            mode, reason = "incremental", f"what changed since {since.isoformat()}"
        watermark = _watermark(cur)
        cur.execute(
            """insert into vigil_meta.mart_builds (mode, reason, since, watermark, inputs, digests_before)
               values (%s, %s, %s, %s, %s, %s) returning build_id""",
            (mode, reason, since if mode == "incremental" else datetime.min.replace(tzinfo=UTC), watermark,
             json.dumps(inputs), json.dumps(before) if before is not None else None),
        )
        build_id = cur.fetchone()[0]
    return Build(build_id, mode, reason, since)


def finish_build(conn, build: Build, succeeded: bool, whole: bool = True) -> None:
    """Succeeded: its watermark is the next build's `since` (and a periodic full build takes
    the digests to compare). Failed, or partial (some models only, `whole` false: the others
    have not read what changed): the next build reads from the same `since` again."""
    status = "failed" if not succeeded else "succeeded" if whole else "partial"
    with conn, conn.cursor() as cur:
        after = None
        if status == "succeeded":
            cur.execute("select digests_before is not null from vigil_meta.mart_builds where build_id = %s",
                        (build.build_id,))
            if cur.fetchone()[0]:
                after = json.dumps(digests(cur))
        cur.execute(
            """update vigil_meta.mart_builds set status = %s, finished_at = now(), digests_after = %s
               where build_id = %s""",
            (status, after, build.build_id),
        )


@dataclass(frozen=True)
class Comparison:
    build_id: int
    finished_at: datetime
    differing: dict[str, list[str]]  # mart -> service dates whose rows differ ('all' without dates)


def latest_comparison(conn) -> Comparison | None:
    """The last periodic full build's comparison with the incremental result before it."""
    with conn.cursor() as cur:
        cur.execute("""select build_id, finished_at, digests_before, digests_after from vigil_meta.mart_builds
                       where status = 'succeeded' and digests_after is not null
                       order by build_id desc limit 1""")
        row = cur.fetchone()
    conn.commit()
    if row is None:
        return None
    build_id, finished_at, before, after = row
    differing = {}
    for table in COMPARED:
        old, new = before.get(table, {}), after.get(table, {})
        days = sorted(day for day in set(old) | set(new) if old.get(day) != new.get(day))
        if days:
            differing[table] = days
    return Comparison(build_id, finished_at, differing)
