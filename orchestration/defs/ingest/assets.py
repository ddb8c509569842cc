"""Inbox exports into the raw tables: validated with pandera, refused records quarantined
with file, line, field and reason. Not partitioned: a file is ingested once, whatever day
it describes (a file already ingested is not read again); the daily assets downstream decide
what is billed when."""

import dagster as dg

from orchestration.lib.resources import InboxResource, WarehouseResource

RAW_TABLES = (
    "company_documents",
    "contract_documents",
    "tax_rates",
    "timesheets",
    "incidents",
    "patrols",
    "devices",
    "device_events",
    "payments_received",
    "quarantine",
)


class IngestConfig(dg.Config):
    inbox: str = ""
    only_files: list[str] = []
    # seconds a file must be left alone before it is read; negative: the inbox resource's
    # setting. `vigil run --inbox` passes 0: it ingests everything the folder holds now.
    settle_seconds: float = -1


def raw_key(table: str) -> dg.AssetKey:
    return dg.AssetKey(["raw", table])


@dg.multi_asset(
    specs=[
        dg.AssetSpec(
            raw_key(table),
            group_name="ingest",
            kinds={"python", "polars", "postgres"},
            description=f"raw.{table}: records accepted from the inbox and vendor exports."
            if table != "quarantine"
            else "raw.quarantine: every refused record with file, line, field and reason.",
        )
        for table in RAW_TABLES
    ],
    check_specs=[
        dg.AssetCheckSpec("records_valid", asset=raw_key("quarantine"),
                          description="No record of this batch was refused (WARN: refused ones are quarantined)."),
        dg.AssetCheckSpec("contract_files_accepted", asset=raw_key("contract_documents"),
                          description="Every contract file of this batch passed validation."),
    ],
    can_subset=False,
)
def inbox_files(context: dg.AssetExecutionContext, config: IngestConfig, warehouse: WarehouseResource,
                inbox: InboxResource):
    from connectors.inbox import ingest_inbox

    inbox_dir = inbox.resolve(config.inbox)
    settle = config.settle_seconds if config.settle_seconds >= 0 else inbox.settle()
    with warehouse.connection() as conn:
        report = ingest_inbox(conn, inbox_dir, only_files=config.only_files or None, settle_seconds=settle,
                              archive_dir=inbox.archive_dir())
    context.log.info(f"ingested {inbox_dir}: {report.summary()}")
    for table in RAW_TABLES:
        yield dg.MaterializeResult(
            asset_key=raw_key(table),
            metadata={"new_rows": dg.MetadataValue.int(report.new_rows(table)), "inbox": str(inbox_dir),
                      "files_read": report.files, "files_already_ingested": report.skipped,
                      "files_waiting": len(report.waiting), "files_archived": report.archived},
        )
    refused = report.quarantined_records()
    sample = [q.message() for q in refused[:20]]
    yield dg.AssetCheckResult(
        check_name="records_valid",
        asset_key=raw_key("quarantine"),
        passed=not refused,
        severity=dg.AssetCheckSeverity.WARN,
        metadata={
            "quarantined": len(refused),
            "sample": dg.MetadataValue.md("\n".join(f"- {s}" for s in sample) or "none"),
        },
    )
    rejected = [q for q in refused if q.source == "contracts"]
    yield dg.AssetCheckResult(
        check_name="contract_files_accepted",
        asset_key=raw_key("contract_documents"),
        passed=not rejected,
        severity=dg.AssetCheckSeverity.WARN,
        metadata={"rejected_files": len(rejected),
                  "reasons": dg.MetadataValue.md("\n".join(f"- {q.message()}" for q in rejected) or "none")},
    )
