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
