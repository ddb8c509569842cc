"""Runs the renewal story of tests/renewals/inbox.py on a warehouse of its own, the way the
daily job does (issue the invoices through the range, then the renewals of each day in
order), with the clients' decisions made between ranges through the function the portal
uses, and dbt rebuilt after each decision (the next run's build). Nothing is mocked: the
real connectors ingest the inbox, real dbt builds the marts, invoices are rated and issued,
messages go to the file outbox."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

from billing.issuing import issue_invoices
from billing.messaging.channels import Channels, EmailFileOutbox, SmsFileOutbox
from billing.renewals.daily import run_days
from billing.renewals.decisions import decide
from connectors.inbox import ingest_inbox
from tests.dbt.test_dbt_build import run_dbt
from tests.renewals.inbox import write_inbox

FIRST_DAY = date(2026, 6, 1)
LAST_DAY = date(2028, 3, 1)

# (business day, contract, client, action, option): each taken before that day's run.
DECISIONS = [
    (date(2026, 6, 10), "K-105-M", "C-105", "accept", "upgrade"),
    (date(2026, 9, 5), "K-105-M-R1", "C-105", "accept", "same"),
    (date(2026, 10, 14), "K-102-M", "C-102", "accept", "longer_term"),
    (date(2026, 12, 10), "K-104-M", "C-104", "decline", None),
]


@dataclass
class Story:
    conn: object
    channels: Channels
    outbox: Path
    warehouse: object
    workdir: Path
    decisions: list = field(default_factory=list)
    asset_metadata: dict = field(default_factory=dict)

    def run(self, first: date, last: date) -> None:
        """One daily-job range: invoices through `last`, then the renewals of each day."""
        issue_invoices(self.conn, last)
        run_days(self.conn, self.channels, first, last, backoff_seconds=0)

    def run_asset(self, first: date, last: date) -> dict:
        """The same range through the Dagster asset in-process (a single-run backfill of
        first..last, as `vigil run` executes it); returns its materialization's metadata."""
        import importlib
        import sys

        import dagster as dg

        from orchestration.lib.resources import MessagingResource, WarehouseResource

        # The daily partitions are fixed at import from the warehouse's calendar: import them
        # afresh for this warehouse (what orchestration.definitions.reload does).
        for name in [name for name in sys.modules
                     if name == "orchestration.lib.partitions" or name.startswith("orchestration.defs")]:
            del sys.modules[name]
        renewals = importlib.import_module("orchestration.defs.renewals.assets").renewals
        issue_invoices(self.conn, last)
        result = dg.materialize(
            [renewals], resources={"warehouse": WarehouseResource(),
                                   "messaging": MessagingResource(retry_backoff_seconds=0)},
            tags={"dagster/asset_partition_range_start": first.isoformat(),
                  "dagster/asset_partition_range_end": last.isoformat()})
        assert result.success
        # one materialization per day of the range, all from the one execution
        materialization = result.asset_materializations_for_node("billing__renewals")[-1]
        return {key: value.value for key, value in materialization.metadata.items()}

    def rebuild(self) -> None:
        """What the next run's dbt build changes for a decision: the contracts in force
        (dim_contracts and the models it reads; a decision is a new contract document, so the
        pipeline's next build is a full one)."""
        result = run_dbt(self.warehouse, self.workdir / "dbt", "run", "--select", "+dim_contracts")
        assert result.success, result.exception

    def play(self) -> None:
        """The first range through the Dagster asset, the others through the billing functions."""
        day = FIRST_DAY
        for when, contract_id, client_id, action, option in DECISIONS:
            last = date.fromordinal(when.toordinal() - 1)
            if day == FIRST_DAY:
                self.asset_metadata = self.run_asset(day, last)
            else:
                self.run(day, last)
            outcome = decide(self.conn, contract_id=contract_id, client_id=client_id, action=action, option=option,
                             decided_by="Pat Client", today=when)
            self.decisions.append(outcome)
            if outcome.new_contract_id:  # a decline changes no contract
                self.rebuild()
            day = when
        self.run(day, LAST_DAY)


def open_story(conn, warehouse, workdir: Path) -> Story:
    inbox = write_inbox(workdir / "inbox")
    ingest_inbox(conn, inbox)
    # models and the seed; dbt's tests run on the renewals at the end (test_timelines.py)
    result = run_dbt(warehouse, workdir / "dbt", "build", "--resource-type", "model", "--resource-type", "seed")
    assert result.success, result.exception
    outbox = workdir / "outbox"
    channels = Channels(email=EmailFileOutbox(outbox / "email", "billing@vigil.example"),
                        sms=SmsFileOutbox(outbox / "sms", "+15550000000"))
    return Story(conn, channels, outbox, warehouse, workdir)
