"""Dagster resources: thin adapters that hand our plain-Python layers what they need.
Secrets arrive only through ``dg.EnvVar`` where the resources are bound."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import dagster as dg
import psycopg2.extensions

from orchestration.lib.pacing import DEFAULT_REQUESTS_PER_SECOND
from vigil import config, db


class WarehouseResource(dg.ConfigurableResource):
    """The warehouse database (embedded unless DATABASE_URL is set, see vigil.db). It only
    connects: migrations are applied by the `vigil` commands and the deployment's entrypoint,
    never in the middle of a run."""

    @contextmanager
    def connection(self) -> Iterator[psycopg2.extensions.connection]:
        conn = db.connect()
        try:
            yield conn
        finally:
            conn.close()

    def dbt_env(self) -> dict[str, str]:
        return db.server_params().dbt_env()


class InboxResource(dg.ConfigurableResource):
    """Where exports land; the sensor watches it and `vigil run --inbox` overrides it per run.
    A file waits until it has been left alone `settle_seconds` (negative: the setting
    VIGIL_INBOX_SETTLE_SECONDS); `archive` (or VIGIL_INBOX_ARCHIVE) receives ingested record
    exports."""

    path: str = ""
    settle_seconds: float = -1
    archive: str = ""

    def resolve(self, override: str = "") -> Path:
        return Path(override or self.path or config.paths().inbox).expanduser().resolve()

    def settle(self) -> float:
        return self.settle_seconds if self.settle_seconds >= 0 else config.inbox_settle_seconds()

    def archive_dir(self) -> Path | None:
        return Path(self.archive).expanduser().resolve() if self.archive else config.inbox_archive()


class MessagingResource(dg.ConfigurableResource):
    """Email through SendGrid and SMS through Twilio when their keys are set, otherwise the
    file outbox under $VIGIL_HOME/outbox (interfaces.md section 8). The `*_host`/`*_base`
    settings point the SDKs at loopback peers in tests."""

    sendgrid_api_key: str = ""
    sendgrid_host: str = ""
    from_email: str = "billing@vigil.example"
    twilio_account_sid: str = ""
    twilio_auth_token: str = ""
    twilio_from: str = ""
    twilio_api_base: str = ""
    public_url: str = ""  # VIGIL_PUBLIC_URL: when set, Twilio reports each SMS's status to /webhooks/twilio
    retry_backoff_seconds: float = 1.0

    def channels(self):
        from billing.messaging.channels import Channels, EmailFileOutbox, SendGridEmail, SmsFileOutbox, TwilioSms

        outbox = config.paths().outbox
        email = (SendGridEmail(self.sendgrid_api_key, self.from_email, host=self.sendgrid_host or None)
                 if self.sendgrid_api_key else EmailFileOutbox(outbox / "email", self.from_email))
        callback = f"{self.public_url.rstrip('/')}/webhooks/twilio" if self.public_url else None
        sms = (TwilioSms(self.twilio_account_sid, self.twilio_auth_token, self.twilio_from,
                         api_base=self.twilio_api_base or None, status_callback=callback)
               if self.twilio_account_sid and self.twilio_auth_token
               else SmsFileOutbox(outbox / "sms", self.twilio_from or "+10000000000"))
        return Channels(email=email, sms=sms)


class StripeResource(dg.ConfigurableResource):
    """Payments through the stripe SDK, as VIGIL_PAYMENTS says (vigil.config.payments_mode):
    `stripe` with the account's key, `local` against the localstripe `vigil` started (its URL
    in STRIPE_API_BASE, never the real key), `off`: no gateway at all, nothing is charged."""

    api_key: str = ""
    api_base: str = ""
    # The provider's rate limit is per account: the pace every charge step keeps
    # (orchestration/lib/pacing.py, VIGIL_STRIPE_REQUESTS_PER_SECOND).
    requests_per_second: float = DEFAULT_REQUESTS_PER_SECOND

    def mode(self) -> str:
        return config.payments_mode()

    def gateway(self):
        """The gateway to charge through, paced under the provider's rate limit, or None when
        auto-pay is off."""
        from billing.payments import StripeGateway
        from orchestration.lib.pacing import PacedGateway, RateLimiter

        mode = self.mode()
        if mode == "off":
            return None
        if mode == "local":
            if not self.api_base:
                raise RuntimeError("VIGIL_PAYMENTS=local but no localstripe URL in STRIPE_API_BASE "
                                   "(run through `vigil demo`, `vigil run` or `vigil ui`, which start it)")
            gateway = StripeGateway(api_key="sk_test_vigil_local", api_base=self.api_base, test_clock=True)
        else:
            gateway = StripeGateway(api_key=self.api_key, api_base=self.api_base or None)
        return PacedGateway(gateway, RateLimiter(self.requests_per_second))
