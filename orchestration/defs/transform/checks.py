"""The incremental marts checked against a full build: each periodic full build digests the
marts before (what the incremental builds made) and after (what a full build makes), per
service date; a mart whose digests differ fails, naming the dates."""

import dagster as dg

from orchestration.lib import mart_builds
from orchestration.lib.resources import WarehouseResource


@dg.multi_asset_check(
    specs=[
        dg.AssetCheckSpec("incremental_matches_full", asset=dg.AssetKey(["marts", table]),
                          description="At the last periodic full build, the incremental result equalled the full one.")
        for table in mart_builds.COMPARED
    ],
    can_subset=False,
)
def incremental_matches_full(warehouse: WarehouseResource):
    with warehouse.connection() as conn:
        comparison = mart_builds.latest_comparison(conn)
    for table in mart_builds.COMPARED:
        key = dg.AssetKey(["marts", table])
        if comparison is None:
            yield dg.AssetCheckResult(check_name="incremental_matches_full", asset_key=key, passed=True,
                                      metadata={"compared": "not yet: no periodic full build so far"})
            continue
        days = comparison.differing.get(table, [])
        yield dg.AssetCheckResult(
            check_name="incremental_matches_full",
            asset_key=key,
            passed=not days,
            severity=dg.AssetCheckSeverity.ERROR,
            metadata={"build": comparison.build_id, "compared_at": comparison.finished_at.isoformat(),
                      "differing_dates": len(days), "dates": dg.MetadataValue.md(", ".join(days[:50]) or "none")},
        )
