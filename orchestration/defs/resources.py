"""Bind every resource once for the whole code location."""

import os

import dagster as dg

from orchestration.lib.dbt import dbt_resource
from orchestration.lib.resources import InboxResource, SendGridResource, StripeResource, WarehouseResource


def _env(name: str) -> dg.EnvVar | str:
    """An EnvVar when the variable is set; unset optional settings stay empty."""
    return dg.EnvVar(name) if os.environ.get(name) else ""


@dg.definitions
def resources() -> dg.Definitions:
    return dg.Definitions(
        resources={
            "warehouse": WarehouseResource(),
            "inbox": InboxResource(path=_env("VIGIL_INBOX")),
            "email": SendGridResource(api_key=_env("SENDGRID_API_KEY"), api_host=_env("SENDGRID_API_HOST")),
            "stripe": StripeResource(api_key=_env("STRIPE_API_KEY"), api_base=_env("STRIPE_API_BASE")),
            "dbt": dbt_resource(),
        }
    )
