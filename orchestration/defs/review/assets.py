"""Finance's decisions on findings (billing.finding_reviews), written by `vigil findings
resolve` and the finance console, never by a run. An observable source: each observation
records how many reviews exist and the latest, so the UI shows when finance last decided
and dbt's findings mart (which reads them) is seen downstream of their changes."""

import dagster as dg

from orchestration.lib.resources import WarehouseResource

FINDING_REVIEWS = dg.AssetKey(["billing", "finding_reviews"])


@dg.observable_source_asset(
    key=FINDING_REVIEWS,
    group_name="review",
    kinds={"postgres"},
    description="billing.finding_reviews: one decision per finding (excluded, billed_as_is, corrected), "
    "who and when; read by marts/fct_findings and by billing when it issues.",
)
def finding_reviews(warehouse: WarehouseResource) -> dg.ObserveResult:
    with warehouse.connection() as conn, conn.cursor() as cur:
        cur.execute("select count(*), max(reviewed_at) from billing.finding_reviews")
        count, latest = cur.fetchone()
    return dg.ObserveResult(
        data_version=dg.DataVersion(f"{count}:{latest.isoformat() if latest else '-'}"),
        metadata={"reviews": count, "latest": latest.isoformat() if latest else "none"},
    )
