"""Steps that write the warehouse share one pool of one slot on our persistent instance,
and `execute_in_process` (how `vigil run` executes) really waits for it: it skips the run
queue, not the pools."""

from __future__ import annotations

import threading
import time

import dagster as dg
import pytest

from vigil import services

pytestmark = pytest.mark.integration

WAREHOUSE_WRITERS = ["billing/invoices", "delivery/invoice_messages", "payments/autopay_charges",
                     "marts/fct_findings", "staging/stg_inbox__shifts"]


def test_every_warehouse_writer_claims_the_pool():
    from orchestration.definitions import defs

    graph = defs().resolve_asset_graph()
    pools = {key.to_user_string(): graph.get(key).pools for key in graph.get_all_asset_keys()}
    for key in WAREHOUSE_WRITERS:
        assert pools[key] == {services.WAREHOUSE_POOL}, key
    job = defs().resolve_job_def("daily_billing_job")
    assert job.tags[services.WAREHOUSE_RUN_TAG] == "daily_billing"


@pytest.fixture
def instance(warehouse, monkeypatch):
    for name in ("DAGSTER_HOME", "VIGIL_DAGSTER_PG_URL"):
        monkeypatch.setenv(name, "")
    services.prepare_instance()
    with dg.DagsterInstance.get() as persistent:
        yield persistent


def _ensure_pool(storage) -> None:
    """The pool's slots exist once a step has claimed it; create them as that step would."""
    if services.WAREHOUSE_POOL not in storage.get_concurrency_keys():
        storage.initialize_concurrency_limit_to_default(services.WAREHOUSE_POOL)


def test_in_process_run_waits_for_the_warehouse_slot(instance):
    @dg.asset(pool=services.WAREHOUSE_POOL)
    def guarded() -> int:
        return 1

    definitions = dg.Definitions(assets=[guarded], jobs=[dg.define_asset_job("pool_probe", selection=[guarded])])
    storage = instance.event_log_storage
    assert instance.get_concurrency_config().pool_config.default_pool_limit == 1
    _ensure_pool(storage)
    storage.free_concurrency_slots_for_run("another-run")
    assert storage.claim_concurrency_slot(services.WAREHOUSE_POOL, "another-run", "dbt_build").is_claimed
    outcome = {}

    def run() -> None:
        outcome["result"] = definitions.resolve_job_def("pool_probe").execute_in_process(instance=instance)

    worker = threading.Thread(target=run)
    worker.start()
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            info = storage.get_concurrency_info(services.WAREHOUSE_POOL)
            if any(step.run_id != "another-run" for step in info.pending_steps if not step.assigned_timestamp):
                break
            time.sleep(0.2)
        else:
            pytest.fail("the in-process run never asked for the slot")
        assert worker.is_alive() and "result" not in outcome  # waiting, not running
        assert not instance.get_latest_materialization_event(dg.AssetKey("guarded"))
    finally:
        storage.free_concurrency_slots_for_run("another-run")
        worker.join(120)
    assert outcome["result"].success
    assert instance.get_latest_materialization_event(dg.AssetKey("guarded"))


def test_a_vigil_run_frees_what_a_dead_one_left(instance):
    """A `vigil run` killed mid-step leaves its run STARTED and its slot claimed; the next one,
    holding the run lock, marks that run failed and frees the slot instead of waiting forever."""
    from vigil_app.pipeline import COMMAND_TAG, exclusive_run

    @dg.op
    def noop() -> None:
        pass

    @dg.job(tags={COMMAND_TAG: "run"})
    def killed_job():
        noop()

    dead = instance.create_run_for_job(killed_job, tags={COMMAND_TAG: "run"})
    instance.handle_run_event(dead.run_id, dg.DagsterEvent(
        event_type_value="PIPELINE_START", job_name=dead.job_name))
    storage = instance.event_log_storage
    _ensure_pool(storage)
    assert storage.claim_concurrency_slot(services.WAREHOUSE_POOL, dead.run_id, "dbt_build").is_claimed
    assert instance.get_run_by_id(dead.run_id).status == dg.DagsterRunStatus.STARTED
    with exclusive_run():
        pass
    assert instance.get_run_by_id(dead.run_id).status == dg.DagsterRunStatus.FAILURE
    assert storage.get_concurrency_info(services.WAREHOUSE_POOL).claimed_slots == []
