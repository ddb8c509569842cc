"""The code location loads, and its lineage runs from the inbox to payments."""

from __future__ import annotations

import dagster as dg

from orchestration.definitions import defs as load_defs


def _defs() -> dg.Definitions:
    return load_defs() if callable(load_defs) else load_defs


def test_code_location_loads():
    defs = _defs()
    dg.Definitions.validate_loadable(defs)
    repo = defs.get_repository_def()
    assert {j.name for j in repo.get_all_jobs()} >= {"daily_billing_job", "ingest_inbox_job"}
    assert {s.name for s in repo.schedule_defs} == {"daily_billing_schedule"}
    assert {s.name for s in repo.sensor_defs} >= {"inbox_file_sensor"}


def test_lineage_runs_from_raw_through_dbt_to_payments():
    graph = _defs().resolve_asset_graph()
    keys = {k.to_user_string() for k in graph.get_all_asset_keys()}
    for expected in ("raw/timesheets", "raw/contract_documents", "marts/fct_guard_shifts", "marts/fct_findings",
                     "billing/invoices", "delivery/invoice_messages", "payments/autopay_charges"):
        assert expected in keys
    upstream = graph.get(dg.AssetKey(["payments", "autopay_charges"])).parent_keys
    assert dg.AssetKey(["billing", "invoices"]) in upstream
    ancestors = graph.upstream_key_iterator(dg.AssetKey(["billing", "invoices"]))
    assert dg.AssetKey(["raw", "timesheets"]) in set(ancestors)


def test_dbt_tests_are_asset_checks():
    graph = _defs().resolve_asset_graph()
    check_keys = graph.asset_check_keys
    dbt_checks = [k for k in check_keys if k.asset_key.path[0] in ("staging", "marts")]
    assert any(k.name.startswith("unique_") for k in dbt_checks)
    assert any(k.asset_key == dg.AssetKey(["billing", "invoices"]) for k in check_keys)


def _graph_shape() -> dict:
    """The asset graph as a reader sees it: every key with its group, kinds and sorted deps,
    every check, job, schedule and sensor (Dagster's open platform snapshots the same)."""
    defs = _defs()
    graph = defs.resolve_asset_graph()
    assets = {}
    for key in sorted(graph.get_all_asset_keys(), key=lambda k: k.to_user_string()):
        node = graph.get(key)
        assets[key.to_user_string()] = {
            "group": node.group_name,
            "kinds": sorted(node.kinds),
            "deps": sorted(parent.to_user_string() for parent in node.parent_keys),
        }
    repo = defs.get_repository_def()
    return {
        "assets": assets,
        "checks": sorted(f"{k.asset_key.to_user_string()}:{k.name}" for k in graph.asset_check_keys
                         if k.asset_key.path[0] not in ("staging", "intermediate", "marts")
                         or k.name.startswith("findings_")),
        "jobs": sorted(j.name for j in repo.get_all_jobs() if not j.name.startswith("__")),
        "schedules": sorted(s.name for s in repo.schedule_defs),
        "sensors": sorted(s.name for s in repo.sensor_defs),
    }


def test_asset_graph_snapshot(snapshot):
    """A change to the lineage shows up as a diff to review (`pytest --snapshot-update` to accept)."""
    assert _graph_shape() == snapshot


def test_one_lineage_graph_every_asset_connected():
    graph = _defs().resolve_asset_graph()
    isolated = [k.to_user_string() for k in graph.get_all_asset_keys()
                if not graph.get(k).parent_keys and not graph.get(k).child_keys]
    assert isolated == []
    for vendor in ("genetec", "milestone", "avigilon", "lenel", "amag", "tracktik", "crm"):
        assert graph.get(dg.AssetKey(["raw_api", vendor])).child_keys
    findings_upstream = set(graph.upstream_key_iterator(dg.AssetKey(["marts", "fct_findings"])))
    assert dg.AssetKey(["billing", "finding_reviews"]) in findings_upstream
