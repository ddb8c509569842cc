"""Vendor API pulls into the raw tables, one unpartitioned asset per vendor
(`raw_api/<vendor>`), started by each vendor's sensor (sensors.py).

A pull reads the vendor's cursor from raw.api_cursors, asks the vendor's client
(connectors/<vendor>/client.py) for what is new since, and stores the records with
connectors.store.store_results. The new cursor is written in the same transaction as the
records: a pull that fails to store leaves the cursor where it was, so nothing is skipped,
and one that stored moves it, so nothing is pulled twice (and were it pulled twice, the
raw tables' unique keys would store it once).

Lineage: these assets write the same raw tables as the inbox ingest (`raw/<table>`, which
dbt declares as its sources). Dagster gives a table one producing asset, so each pull is
drawn upstream of the staging models that read the tables it writes
(orchestration/lib/lineage.py, applied by the dbt translator). dbt picks their rows up on
its next build (the daily job), exactly as it picks up rows of a file dropped between two runs.

Inside a partitioned run (the daily job selects every asset) a pull does nothing: API
pulls run on their own schedule, and an unreachable vendor must not fail a day's billing."""

import json

import dagster as dg

from orchestration.defs.sources.resources import VENDORS, VendorApiResource, resource_key
from orchestration.lib.lineage import VENDOR_RAW_TABLES as RAW_TABLES
from orchestration.lib.lineage import api_key
from orchestration.lib.resources import InboxResource, WarehouseResource

TITLES = {"genetec": "Genetec Security Center", "milestone": "Milestone XProtect", "avigilon": "Avigilon ACC",
          "lenel": "Lenel OnGuard", "amag": "AMAG Symmetry", "tracktik": "TrackTik", "crm": "the CRM"}
PARTITION_TAGS = ("dagster/partition", "dagster/asset_partition_range_start")


def read_cursor(conn, source: str) -> str | None:
    with conn.cursor() as cur:
        cur.execute("select cursor_value from raw.api_cursors where source = %s", (source,))
        row = cur.fetchone()
    conn.commit()
    return row[0] if row else None


def pull_into_raw(conn, source: str, client) -> dict:
    """One incremental pull: cursor -> client.pull -> raw tables and the new cursor, both in
    one transaction. Returns what happened, for the asset's metadata."""
    from connectors.store import store_results

    before = read_cursor(conn, source)
    results, cursor = client.pull(before)
    pulled = sum(r.rows.height for r in results)
    refused = sum(len(r.quarantined) for r in results)
    with conn.cursor() as cur:  # same transaction as the records: store_results commits both
        cur.execute(
            """insert into raw.api_cursors (source, cursor_value, records_pulled, updated_at)
               values (%s, %s, %s, now())
               on conflict (source) do update set cursor_value = excluded.cursor_value,
                   records_pulled = raw.api_cursors.records_pulled + excluded.records_pulled,
                   updated_at = now()""",
            (source, cursor, pulled),
        )
    try:
        outcome = store_results(conn, results)
    except Exception:
        conn.rollback()
        raise
    return {"records_pulled": pulled, "new_records": sum(outcome.ingested.values()),
            "quarantined": refused, "new_quarantined": sum(outcome.quarantined.values()),
            "tables": {t: outcome.tables.get(t, 0) for t in sorted(outcome.tables)},
            "cursor": cursor, "previous_cursor": before}


def build_pull_asset(vendor: str) -> dg.AssetsDefinition:
    tables = RAW_TABLES[vendor]
    key = resource_key(vendor)

    @dg.asset(
        key=api_key(vendor),
        group_name="sources",
        kinds={"python", "http", "postgres"},
        description=f"Incremental pull from {TITLES[vendor]}'s API into "
        f"{', '.join(f'raw.{t}' for t in tables)} (the tables the inbox ingest writes), with the cursor kept "
        "in raw.api_cursors.",
        metadata={"raw_tables": dg.MetadataValue.json([f"raw.{t}" for t in tables])},
        required_resource_keys={key, "warehouse", "inbox"},
        output_required=False,
    )
    def _pull(context: dg.AssetExecutionContext):
        if any(tag in context.run.tags for tag in PARTITION_TAGS):
            context.log.info(f"{vendor}: API pulls do not run inside a partitioned run; its sensor starts them")
            return
        api: VendorApiResource = getattr(context.resources, key)
        if not api.configured():
            raise dg.Failure(description=f"{TITLES[vendor]} API is not configured: set {', '.join(api.missing())}")
        warehouse: WarehouseResource = context.resources.warehouse
        inbox: InboxResource = context.resources.inbox
        client = api.client(inbox.resolve())
        with warehouse.connection() as conn:
            outcome = pull_into_raw(conn, vendor, client)
        context.log.info(f"{vendor}: pulled {outcome['records_pulled']} record(s), {outcome['new_records']} new, "
                         f"{outcome['quarantined']} refused")
        yield dg.MaterializeResult(metadata={
            "records_pulled": dg.MetadataValue.int(outcome["records_pulled"]),
            "new_records": dg.MetadataValue.int(outcome["new_records"]),
            "quarantined": dg.MetadataValue.int(outcome["quarantined"]),
            "new_quarantined": dg.MetadataValue.int(outcome["new_quarantined"]),
            "new_rows_by_table": dg.MetadataValue.json(outcome["tables"]),
            "cursor": dg.MetadataValue.text(_short(outcome["cursor"])),
        })

    return _pull


def _short(cursor: str, limit: int = 500) -> str:
    """The cursor as stored, for display. The device inventory some clients keep in it (Genetec,
    Milestone, Avigilon, Lenel: every device with its first-seen day and last row) is shown as
    `N devices`; the rest as stored, but a Watermark's ids as their count when it is still long
    (many records at one instant). Only what is not a JSON object is cut."""
    try:
        data = json.loads(cursor)
    except ValueError:
        data = None
    if not isinstance(data, dict):
        return cursor if len(cursor) <= limit else cursor[:limit] + "..."
    shown = cursor
    if isinstance(data.get("inventory"), dict):
        data["inventory"] = f"{len(_inventory_devices(data['inventory']))} devices"
        shown = json.dumps(data)
    if len(shown) > limit:
        shown = json.dumps(_ids_counted(data))
    return shown


def _inventory_devices(inventory: dict) -> dict:
    """The devices of a cursor's inventory: the whole of it (connectors.vendor_parsing.Inventory),
    or its `devices` beside the newest snapshot day of each type (Lenel)."""
    devices = inventory.get("devices")
    return devices if isinstance(devices, dict) else inventory


def _ids_counted(data: dict) -> dict:
    """`ids` lists, at the top or in a part (Lenel's `events`), as `N ids`."""
    return {key: f"{len(value)} ids" if key == "ids" and isinstance(value, list)
            else _ids_counted(value) if isinstance(value, dict) else value
            for key, value in data.items()}


api_pull_assets = [build_pull_asset(v) for v in VENDORS]
