"""Polling (collections.md section 5): a sensor that asks the provider about every attempt
still `processing` (an ACH debit) or left `pending`/`unknown`, and settles it on today's
business day: what the webhook missed, between daily runs. Nothing to run: it settles in
place and says what it did."""

from datetime import UTC, datetime

import dagster as dg

from orchestration.lib.resources import StripeResource, WarehouseResource
from vigil import clock

POLL_SECONDS = 300


@dg.sensor(name="payment_events_poll", minimum_interval_seconds=POLL_SECONDS,
           default_status=dg.DefaultSensorStatus.STOPPED,
           description="Every 5 minutes: settle processing, pending and unknown payment attempts from the provider's "
           "own record, dated by the business clock (the webhook's safety net).")
def payment_events_poll(context: dg.SensorEvaluationContext, warehouse: WarehouseResource,
                        stripe: StripeResource) -> dg.SkipReason:
    from billing.payments import reconcile_open

    gateway = stripe.gateway()
    if gateway is None:
        return dg.SkipReason(f"auto-pay is off (VIGIL_PAYMENTS={stripe.mode()}): nothing to poll")
    now = datetime.now(UTC)
    with warehouse.connection() as conn:
        today = clock.read_clock(conn).today(now)
        result = reconcile_open(conn, gateway, today, now, holds_run_lock=False)
    return dg.SkipReason(f"{today}: {result.settled} attempt(s) settled from the provider, {result.still_open} "
                         "still open")
