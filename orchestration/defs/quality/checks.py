"""Each family of validation findings (dbt_project/seeds/finding_types.csv) as an asset check
on the findings mart, scoped to the days the run covers: a family fails when this run's days
have open findings of it (ERROR when one is blocking: the invoices they touch are held),
passes otherwise, whatever older findings still wait in the review queue (counted in the
metadata). The checks are not Dagster-blocking on purpose: billing holds only the touched
invoices and the rest of the run goes on."""

import dagster as dg

from orchestration.lib.finding_types import families
from orchestration.lib.partitions import run_window
from orchestration.lib.resources import WarehouseResource

FINDINGS = dg.AssetKey(["marts", "fct_findings"])


def _check_name(family: str) -> str:
    return f"findings_{family}"


def open_findings(conn, window) -> list[tuple]:
    """Open findings: (type, severity, client, site, date, message, evidence, on the run's days)."""
    with conn.cursor() as cur:
        cur.execute(
            """select f.type, f.severity, f.client_id, f.site_id, f.service_date, f.message,
                      array_to_string(f.evidence, ' '),
                      %(first)s::date is null or f.service_date between %(first)s and %(last)s as in_window
               from marts.fct_findings f left join billing.finding_reviews r using (finding_id)
               where r.finding_id is null
               order by f.service_date nulls first, f.type, f.finding_id""",
            {"first": window[0] if window else None, "last": window[1] if window else None},
        )
        return cur.fetchall()


def family_results(open_rows: list[tuple], window) -> list[dg.AssetCheckResult]:
    """One result per family: failed when the run's days have open findings of it."""
    results = []
    for family, types in families().items():
        queued = [r for r in open_rows if r[0] in types]
        rows = [r for r in queued if r[7]]
        blocking = [r for r in rows if r[1] == "blocking"]
        table = "\n".join(
            ["| type | severity | client | site | date | evidence | message |", "|---|---|---|---|---|---|---|"]
            + [f"| {t} | {s} | {c or ''} | {si or ''} | {d or ''} | {e} | {m} |"
               for t, s, c, si, d, m, e, _ in rows[:15]]
        )
        results.append(dg.AssetCheckResult(
            check_name=_check_name(family),
            asset_key=FINDINGS,
            passed=not rows,
            severity=dg.AssetCheckSeverity.ERROR if blocking else dg.AssetCheckSeverity.WARN,
            metadata={
                "days": f"{window[0]}..{window[1]}" if window else "all",
                "open_on_these_days": len(rows),
                "blocking_on_these_days": len(blocking),
                "open_in_queue": len(queued),
                "by_type": dg.MetadataValue.json({t: sum(1 for r in rows if r[0] == t) for t in types}),
                "sample": dg.MetadataValue.md(table if rows else "none"),
            },
        ))
    return results


@dg.multi_asset_check(
    specs=[
        dg.AssetCheckSpec(_check_name(family), asset=FINDINGS,
                          description=f"No open finding of types {', '.join(types)} on the run's days.")
        for family, types in families().items()
    ],
    can_subset=False,
)
def findings_by_family(context: dg.AssetCheckExecutionContext, warehouse: WarehouseResource):
    window = run_window(context.run.tags)
    with warehouse.connection() as conn:
        rows = open_findings(conn, window)
    yield from family_results(rows, window)
