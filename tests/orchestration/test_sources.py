"""Vendor API pulls as Dagster assets: each pulls from the vendor's fake server into the test
warehouse, keeps its cursor in raw.api_cursors and pulls nothing new the second time; each
vendor's sensor skips until the vendor is configured."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import dagster as dg
import pytest

from connectors.genetec import simulator as genetec_sim
from connectors.genetec.fake_server import FakeWebSdk
from connectors.lenel import simulator as lenel_sim
from connectors.lenel.fake_server import FakeOpenAccess
from connectors.simulator.world import build_world
from connectors.tracktik import simulator as tracktik_sim
from connectors.tracktik.client import Cursor
from connectors.tracktik.fake_server import FakeTrackTik
from orchestration.defs.sources.assets import RAW_TABLES, _short, api_key, api_pull_assets
from orchestration.defs.sources.resources import (
    ENV_VARS,
    VENDORS,
    GenetecApiResource,
    LenelApiResource,
    TrackTikApiResource,
    from_env,
    resource_key,
)
from orchestration.defs.sources.sensors import api_pull_sensors
from orchestration.lib.resources import InboxResource, WarehouseResource

pytestmark = [pytest.mark.integration]

ASSETS = {a.key.path[-1]: a for a in api_pull_assets}
SENSORS = {s.name: s for s in api_pull_sensors}


@pytest.fixture(scope="module")
def world():
    return build_world(days=14, clients=4, seed=7)


def _materialize(vendor: str, api, inbox):
    result = dg.materialize([ASSETS[vendor]], resources={
        resource_key(vendor): api, "warehouse": WarehouseResource(), "inbox": InboxResource(path=str(inbox))})
    assert result.success
    [mat] = result.asset_materializations_for_node(ASSETS[vendor].op.name)
    assert mat.asset_key == api_key(vendor)
    return {k: v.value for k, v in mat.metadata.items()}


def _counts(conn, vendor: str) -> dict[str, int]:
    counts = {}
    with conn.cursor() as cur:
        for table in RAW_TABLES[vendor] + ("quarantine",):
            cur.execute(f"select count(*) from raw.{table} where source = %s", (vendor,))
            counts[table] = cur.fetchone()[0]
    conn.commit()
    return counts


def _cursor(conn, vendor: str):
    with conn.cursor() as cur:
        cur.execute("select cursor_value, records_pulled from raw.api_cursors where source = %s", (vendor,))
        row = cur.fetchone()
    conn.commit()
    return row


def _shows_stored_cursor(shown: str, stored: str) -> dict | None:
    """The metadata shows the stored cursor part for part, its device inventory (if any) as a
    count; returns the stored inventory for the caller to count independently."""
    shown_parts, stored_parts = json.loads(shown), json.loads(stored)
    inventory = stored_parts.pop("inventory", None)
    assert ("inventory" in shown_parts) == (inventory is not None)
    summary = shown_parts.pop("inventory", None)
    assert shown_parts == stored_parts
    if inventory is not None:
        assert summary.endswith(" devices") and len(stored) > len(shown)
        return {"summary": summary, "stored": inventory}
    return None


def _pull_twice(conn, vendor, api, inbox):
    first = _materialize(vendor, api, inbox)
    after_first = _counts(conn, vendor)
    stored = _cursor(conn, vendor)
    assert first["new_records"] > 0 and first["records_pulled"] >= first["new_records"]
    assert stored is not None and json.loads(stored[0]) is not None
    assert stored[1] == first["records_pulled"]
    first["inventory"] = _shows_stored_cursor(first["cursor"], stored[0])

    second = _materialize(vendor, api, inbox)
    assert second["new_records"] == 0 and second["new_quarantined"] == 0
    assert _counts(conn, vendor) == after_first
    return first, second, after_first


def test_genetec_pull_stores_rows_and_cursor_then_nothing_new(conn, world, tmp_path):
    genetec_sim.write_exports(world, tmp_path / "genetec")  # the inbox's site map (sites.json) is the default
    server = genetec_sim.records_for_server(world)
    with FakeWebSdk(**server) as sdk:
        api = GenetecApiResource(url=sdk.base_url, user="vigil", app_id="VIGIL-APP", password="secret",
                                 backfill_days=120)
        first, second, counts = _pull_twice(conn, "genetec", api, tmp_path)
    assert counts["incidents"] == len(server["alarms"])
    assert counts["device_events"] >= len(server["events"])
    assert counts["devices"] > 0
    assert first["quarantined"] == 0
    assert json.loads(first["cursor"])["hw"] is not None
    assert second["records_pulled"] == counts["devices"]  # only the inventory comes back, stored once
    # the cursor remembers every device pulled; the metadata counts them instead of listing them
    assert first["inventory"]["summary"] == f"{counts['devices']} devices"
    assert len(first["inventory"]["stored"]) == counts["devices"]


def test_lenel_pull_stores_rows_and_cursor_then_nothing_new(conn, world, tmp_path):
    lenel_sim.write_exports(world, tmp_path / "lenel")  # sites.csv
    records = lenel_sim.records_for_server(world)
    with FakeOpenAccess(**records) as fake:
        api = LenelApiResource(url=fake.base_url, user="admin", password="secret", app_id="VIGIL-APP")
        first, second, counts = _pull_twice(conn, "lenel", api, tmp_path)
    assert counts["device_events"] == len(records["events"])
    assert counts["devices"] == sum(len(v) for v in records["instances"].values())
    stored = _cursor(conn, "lenel")
    assert stored[1] == first["records_pulled"] + second["records_pulled"]  # a running total
    # Lenel's inventory keeps its devices beside the newest snapshot day of each type
    assert first["inventory"]["summary"] == f"{counts['devices']} devices"
    assert len(first["inventory"]["stored"]["devices"]) == counts["devices"]


def test_tracktik_pull_stores_rows_and_cursor_then_nothing_new(conn, world, tmp_path):
    (tmp_path / "tracktik").mkdir()  # the inbox's service_types.csv is the default table
    (tmp_path / "tracktik" / "service_types.csv").write_text(tracktik_sim.service_types_csv(world))
    records = tracktik_sim.records_for_server(world)
    with FakeTrackTik(records) as fake:
        api = TrackTikApiResource(url=fake.base_url, client_id="vigil", client_secret="vigil-secret",
                                  user="api-user", password="api-pass", backfill_days=90)
        first, second, counts = _pull_twice(conn, "tracktik", api, tmp_path)
        assert fake.grants  # authenticated with the configured credentials
    assert counts["timesheets"] == len(records["work-sessions"]) and counts["quarantine"] == 0
    assert first["inventory"] is None  # no inventory: the cursor is shown as stored
    first_start, second_start = Cursor.decode(first["cursor"]).start, Cursor.decode(second["cursor"]).start
    assert first_start <= second_start <= datetime.now(UTC)  # each pull starts where the last one stopped


def test_short_counts_what_a_cursor_lists_and_cuts_only_what_is_not_json():
    inventory = {f"camera-{n}": {"first_seen": "2026-03-01", "row": {"site_id": "S-101"}, "active_to": None}
                 for n in range(40)}
    watermark = {"from": "2026-03-01T08:00:00.000Z", "hw": "2026-03-01T09:00:00.000Z", "ids": ["a1", "a2"]}
    video = json.dumps({**watermark, "inventory": inventory})
    assert json.loads(_short(video)) == {**watermark, "inventory": "40 devices"}
    lenel = json.dumps({"events": watermark, "inventory": {"newest": {"lnl_reader": "2026-03-01"},
                                                           "devices": dict(list(inventory.items())[:3])}})
    assert json.loads(_short(lenel)) == {"events": watermark, "inventory": "3 devices"}
    crowded = {"events": {**watermark, "ids": [f"id-{n:04d}" for n in range(200)]}, "inventory": {}}
    assert json.loads(_short(json.dumps(crowded))) == {"events": {**watermark, "ids": "200 ids"},
                                                       "inventory": "0 devices"}
    tracktik = json.dumps({"from": "2026-03-01T00:00:00+00:00", "ids": ["17", "18"]})
    assert _short(tracktik) == tracktik and _short("12345") == "12345"
    assert _short("x" * 600) == "x" * 500 + "..."


def test_unconfigured_pull_fails_with_the_variables_to_set(warehouse, tmp_path):
    with pytest.raises(dg.Failure, match="VIGIL_LENEL_URL.*VIGIL_LENEL_APP_ID"):
        dg.materialize([ASSETS["lenel"]], resources={
            "lenel_api": LenelApiResource(), "warehouse": WarehouseResource(),
            "inbox": InboxResource(path=str(tmp_path))})


def test_a_partitioned_run_does_not_pull(conn, tmp_path):
    result = dg.materialize([ASSETS["crm"]], tags={"dagster/partition": "2026-10-01"}, resources={
        "crm_api": from_env("crm"), "warehouse": WarehouseResource(), "inbox": InboxResource(path=str(tmp_path))})
    assert result.success
    assert not result.asset_materializations_for_node(ASSETS["crm"].op.name)
    assert _cursor(conn, "crm") is None


# --- sensors ---------------------------------------------------------------------------------

def _tick(vendor: str, api, instance=None):
    context = dg.build_sensor_context(resources={resource_key(vendor): api}, instance=instance)
    return SENSORS[f"{vendor}_api_sensor"](context)


@pytest.mark.parametrize("vendor", VENDORS)
def test_sensor_skips_naming_the_variables_until_configured(vendor, monkeypatch):
    for env in ENV_VARS[vendor].values():
        monkeypatch.delenv(env, raising=False)
    skipped = _tick(vendor, from_env(vendor))
    assert isinstance(skipped, dg.SkipReason)
    assert ENV_VARS[vendor]["url"] in skipped.skip_message

    for env in ENV_VARS[vendor].values():
        monkeypatch.setenv(env, f"value-of-{env.lower()}")
    api = from_env(vendor)
    assert api.configured()
    request = _tick(vendor, api)
    assert isinstance(request, dg.RunRequest)
    assert request.tags["vigil/api_source"] == vendor
    # as the daemon evaluates it
    tick = SENSORS[f"{vendor}_api_sensor"].evaluate_tick(
        dg.build_sensor_context(resources={resource_key(vendor): api}))
    assert [r.tags["vigil/api_source"] for r in tick.run_requests] == [vendor]


def test_configured_sensor_requests_a_run_unless_one_is_in_flight():
    from dagster._core.storage.dagster_run import DagsterRun
    from dagster._core.utils import make_new_run_id

    api = GenetecApiResource(url="http://127.0.0.1:1/WebSdk", user="u", app_id="a", password="p")
    with dg.instance_for_test() as instance:
        assert isinstance(_tick("genetec", api, instance), dg.RunRequest)
        assert SENSORS["genetec_api_sensor"].job_name == "genetec_api_pull_job"
        instance.add_run(DagsterRun(job_name="genetec_api_pull_job", run_id=make_new_run_id(),
                                    status=dg.DagsterRunStatus.STARTED))
        waiting = _tick("genetec", api, instance)
        assert isinstance(waiting, dg.SkipReason) and "in progress" in waiting.skip_message
        assert isinstance(_tick("lenel", LenelApiResource(url="u", user="u", password="p", app_id="a"), instance),
                          dg.RunRequest)


def test_sensors_are_stopped_by_default_and_wait_five_minutes():
    for sensor in api_pull_sensors:
        assert sensor.default_status == dg.DefaultSensorStatus.STOPPED
        assert sensor.minimum_interval_seconds >= 300


# --- the code location -------------------------------------------------------------------------

STAGING_OF = {"incidents": "stg_inbox__incidents", "device_events": "stg_inbox__device_events",
              "devices": "stg_inbox__devices", "timesheets": "stg_inbox__shifts",
              "contract_documents": "stg_inbox__contract_documents"}


def test_every_vendor_has_an_asset_job_and_sensor_in_the_code_location():
    from orchestration.definitions import defs as load_defs

    defs = load_defs() if callable(load_defs) else load_defs
    dg.Definitions.validate_loadable(defs)
    repo = defs.get_repository_def()
    graph = defs.resolve_asset_graph()
    jobs = {j.name for j in repo.get_all_jobs()}
    sensors = {s.name: s for s in repo.sensor_defs}
    for vendor in VENDORS:
        node = graph.get(api_key(vendor))
        assert node.group_name == "sources"
        assert {"python", "http", "postgres"} <= set(node.kinds)
        assert not node.is_partitioned
        # one lineage graph: each pull is upstream of the staging models reading the tables it writes
        assert node.child_keys == {dg.AssetKey(["staging", STAGING_OF[table]]) for table in RAW_TABLES[vendor]}
        assert f"{vendor}_api_pull_job" in jobs
        assert sensors[f"{vendor}_api_sensor"].job_name == f"{vendor}_api_pull_job"
        assert resource_key(vendor) in repo.get_top_level_resources()
