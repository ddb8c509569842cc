"""Each family of validation findings as an asset check on the findings mart, so the data
team sees them in the UI. A family with open blocking findings fails with ERROR; the
invoices those findings touch are held by billing, the rest of the run goes on (the checks
are not Dagster-blocking on purpose)."""

import dagster as dg

from orchestration.lib.resources import WarehouseResource

FINDINGS = dg.AssetKey(["marts", "fct_findings"])

FAMILIES: dict[str, tuple[str, ...]] = {
    "shift_integrity": ("missing_checkout", "bad_interval", "overlapping_shift"),
    "contract_coverage": ("missing_rate", "ambiguous_contract", "service_outside_contract", "unpriced_incident"),
    "duplicates": ("duplicate_record",),
    "schedule_adherence": ("schedule_deviation", "schedule_missing"),
    "patrol_compliance": ("missed_checkpoints", "shift_without_patrol_scans"),
    "payment_setup": ("missing_payment_method",),
    "anomalies": ("hours_spike", "overtime_without_incident", "incident_response_gap", "device_fee_without_events"),
    "source_time": ("ambiguous_local_time",),
}


def _check_name(family: str) -> str:
    return f"findings_{family}"


@dg.multi_asset_check(
    specs=[
        dg.AssetCheckSpec(_check_name(family), asset=FINDINGS,
                          description=f"Open findings of types {', '.join(types)}.")
        for family, types in FAMILIES.items()
    ],
    can_subset=False,
)
def findings_by_family(warehouse: WarehouseResource):
    with warehouse.connection() as conn, conn.cursor() as cur:
        cur.execute(
            """select f.type, f.severity, f.client_id, f.site_id, f.service_date, f.message,
                      array_to_string(f.evidence, ' ')
               from marts.fct_findings f left join billing.finding_reviews r using (finding_id)
               where r.finding_id is null
               order by f.service_date nulls first, f.type, f.finding_id"""
        )
        open_findings = cur.fetchall()
    for family, types in FAMILIES.items():
        rows = [r for r in open_findings if r[0] in types]
        blocking = [r for r in rows if r[1] == "blocking"]
        table = "\n".join(
            ["| type | severity | client | site | date | evidence | message |", "|---|---|---|---|---|---|---|"]
            + [f"| {t} | {s} | {c or ''} | {si or ''} | {d or ''} | {e} | {m} |" for t, s, c, si, d, m, e in rows[:15]]
        )
        yield dg.AssetCheckResult(
            check_name=_check_name(family),
            asset_key=FINDINGS,
            passed=not rows,
            severity=dg.AssetCheckSeverity.ERROR if blocking else dg.AssetCheckSeverity.WARN,
            metadata={
                "open": len(rows),
                "blocking": len(blocking),
                "by_type": dg.MetadataValue.json({t: sum(1 for r in rows if r[0] == t) for t in types}),
                "sample": dg.MetadataValue.md(table if rows else "none"),
            },
        )
