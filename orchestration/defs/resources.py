"""Bind every resource once for the whole code location."""

import os

import dagster as dg

from orchestration.lib.dbt import dbt_resource
from orchestration.lib.pacing import DEFAULT_REQUESTS_PER_SECOND
from orchestration.lib.resources import InboxResource, MessagingResource, StripeResource, WarehouseResource


def _env(name: str) -> dg.EnvVar | str:
    """An EnvVar when the variable is set; unset optional settings stay empty."""
    return dg.EnvVar(name) if os.environ.get(name) else ""


@dg.definitions
def resources() -> dg.Definitions:
    return dg.Definitions(
        resources={
            "warehouse": WarehouseResource(),
            "inbox": InboxResource(path=_env("VIGIL_INBOX")),
            "messaging": MessagingResource(
                sendgrid_api_key=_env("SENDGRID_API_KEY"),
                sendgrid_host=_env("SENDGRID_API_HOST"),
                twilio_account_sid=_env("TWILIO_ACCOUNT_SID"),
                twilio_auth_token=_env("TWILIO_AUTH_TOKEN"),
                twilio_from=_env("TWILIO_FROM"),
                twilio_api_base=_env("TWILIO_API_BASE"),
                public_url=_env("VIGIL_PUBLIC_URL"),
                retry_backoff_seconds=float(os.environ.get("VIGIL_SEND_RETRY_SECONDS", "1")),
            ),
            "stripe": StripeResource(api_key=_env("STRIPE_API_KEY"), api_base=_env("STRIPE_API_BASE"),
                                     requests_per_second=float(os.environ.get("VIGIL_STRIPE_REQUESTS_PER_SECOND")
                                                               or DEFAULT_REQUESTS_PER_SECOND)),
            "dbt": dbt_resource(),
        }
    )
