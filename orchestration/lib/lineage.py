"""Which raw tables each vendor's API pull writes (connectors/<vendor>/client.py), so the
pulls join the lineage graph: `raw_api/<vendor>` is upstream of the staging models that
read those tables, beside the inbox ingest that produces them (`raw/<table>`)."""

from __future__ import annotations

import dagster as dg

VENDOR_RAW_TABLES: dict[str, tuple[str, ...]] = {
    "genetec": ("incidents", "device_events", "devices"),
    "milestone": ("incidents", "device_events", "devices"),
    "avigilon": ("incidents", "device_events", "devices"),
    "lenel": ("device_events", "devices"),
    "amag": ("device_events", "devices"),
    "tracktik": ("timesheets",),
    "crm": ("contract_documents",),
}


def api_key(vendor: str) -> dg.AssetKey:
    return dg.AssetKey(["raw_api", vendor])


def pulls_writing(table: str) -> list[dg.AssetKey]:
    """The API pull assets that write raw.`table`."""
    return [api_key(vendor) for vendor, tables in VENDOR_RAW_TABLES.items() if table in tables]
