"""One sensor per vendor API: every few minutes, when the vendor is configured (resources.py)
and no pull of it is still running, it starts `<vendor>_api_pull_job`; the cursor in
raw.api_cursors decides what the pull fetches. Stopped by default: turn on the vendors you
use. An unconfigured vendor's sensor skips and names the variables to set."""

import dagster as dg

from orchestration.defs.sources.assets import TITLES, api_key
from orchestration.defs.sources.resources import VENDORS, VendorApiResource, resource_key

PULL_INTERVAL_SECONDS = 300
IN_FLIGHT = [dg.DagsterRunStatus.QUEUED, dg.DagsterRunStatus.NOT_STARTED, dg.DagsterRunStatus.STARTING,
             dg.DagsterRunStatus.STARTED]


def pull_job(vendor: str):
    return dg.define_asset_job(
        name=f"{vendor}_api_pull_job",
        selection=dg.AssetSelection.assets(api_key(vendor)),
        description=f"Pull what is new from {TITLES[vendor]}'s API into the raw tables (started by "
        f"{vendor}_api_sensor).",
        tags={"vigil/api_source": vendor},
    )


def _running(context: dg.SensorEvaluationContext, job_name: str) -> bool:
    if context.instance_ref is None and not getattr(context, "_instance", None):
        return False  # evaluated without an instance (a unit test): nothing can be running
    runs = context.instance.get_run_records(
        filters=dg.RunsFilter(job_name=job_name, statuses=IN_FLIGHT), limit=1)
    return bool(runs)


def build_pull_sensor(vendor: str, job) -> dg.SensorDefinition:
    key = resource_key(vendor)

    @dg.sensor(
        name=f"{vendor}_api_sensor",
        job=job,
        minimum_interval_seconds=PULL_INTERVAL_SECONDS,
        default_status=dg.DefaultSensorStatus.STOPPED,
        required_resource_keys={key},
        description=f"Starts {job.name} every {PULL_INTERVAL_SECONDS // 60} minutes when {TITLES[vendor]}'s "
        "API is configured.",
    )
    def _sensor(context: dg.SensorEvaluationContext, **resources):
        api: VendorApiResource = resources.get(key) or getattr(context.resources, key)
        missing = api.missing()
        if missing:
            return dg.SkipReason(f"{TITLES[vendor]} API not configured: set {', '.join(missing)}")
        if _running(context, job.name):
            return dg.SkipReason(f"a {job.name} run is still in progress")
        return dg.RunRequest(tags={"vigil/api_source": vendor})

    return _sensor


api_pull_jobs = {v: pull_job(v) for v in VENDORS}
api_pull_sensors = [build_pull_sensor(v, api_pull_jobs[v]) for v in VENDORS]
