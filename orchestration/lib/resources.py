"""Dagster resources: thin adapters that hand our plain-Python layers what they need.
Secrets arrive only through ``dg.EnvVar`` where the resources are bound."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import dagster as dg
import psycopg2.extensions

from vigil import config, db


class WarehouseResource(dg.ConfigurableResource):
    """The warehouse database (embedded unless DATABASE_URL is set, see vigil.db)."""

    @contextmanager
    def connection(self) -> Iterator[psycopg2.extensions.connection]:
        db.prepare()
        conn = db.connect()
        try:
            yield conn
        finally:
            conn.close()

    def dbt_env(self) -> dict[str, str]:
        return db.prepare().dbt_env()


class InboxResource(dg.ConfigurableResource):
    """Where exports land; the sensor watches it and `vigil run --inbox` overrides it per run."""

    path: str = ""

    def resolve(self, override: str = "") -> Path:
        return Path(override or self.path or config.paths().inbox).expanduser().resolve()


class SendGridResource(dg.ConfigurableResource):
    """Email through the SendGrid SDK; with no API key, messages land in a file outbox."""

    api_key: str = ""
    api_host: str = ""
    from_email: str = "billing@vigil.example"

    def sender(self):
        from billing.delivery import FileOutbox, SendGridSender

        if self.api_key:
            return SendGridSender(api_key=self.api_key, from_email=self.from_email, host=self.api_host or None)
        return FileOutbox(config.paths().outbox, from_email=self.from_email)


class StripeResource(dg.ConfigurableResource):
    """Payments through the stripe SDK; `api_base` points it at localstripe in demo and tests."""

    api_key: str = ""
    api_base: str = ""

    def gateway(self):
        from billing.payments import StripeGateway

        return StripeGateway(api_key=self.api_key, api_base=self.api_base or None)
