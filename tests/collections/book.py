"""A small fixture database for collections timelines: clients and payments received stand
in the marts as dbt would build them, invoices are issued as billing/issuing.py records
them, and days run through billing/collections/days.py with localstripe (behind a proxy
that can lose requests and answers) and the file outbox."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from pathlib import Path

from billing.collections.days import CollectionsSummary, run_days
from billing.messaging.channels import Channels, EmailFileOutbox, SmsFileOutbox
from billing.payments import StripeGateway

MARTS = """
create schema if not exists marts;
drop table if exists marts.dim_clients, marts.fct_payments_received, marts.dim_company;
-- as dbt builds it: a table without keys
create table marts.dim_clients (client_id text, client_name text, email text, phone text,
    preferred_channel text, autopay boolean, payment_method text, grouping text, currency text);
create table marts.dim_company (company_name text, email text);
insert into marts.dim_company values ('Sentinel Guard Services', 'billing@sentinel.example');
create table marts.fct_payments_received (payment_id text, version_number integer, is_first_version boolean,
    client_id text, is_known_client boolean, invoice_number text, amount numeric, currency text, method text,
    reference text, received_on date, source_file text, source_line integer, content_hash text);
"""

BILLING_TABLES = ("billing.message_events", "billing.messages", "billing.ledger_entries", "billing.payment_attempts",
                  "billing.received_payments", "billing.payment_refusals", "billing.payment_methods",
                  "billing.dunning_events", "billing.collection_handoffs", "billing.provider_events",
                  "billing.collection_days",
                  "billing.invoice_lines", "billing.invoices")


@dataclass
class Book:
    conn: object
    outbox: Path
    gateway: StripeGateway | None

    def reset(self) -> None:
        with self.conn, self.conn.cursor() as cur:
            cur.execute(MARTS)
            cur.execute(f"truncate {', '.join(BILLING_TABLES)} cascade")

    def client(self, client_id: str, *, autopay: bool = False, method: str | None = None, channel: str = "email",
               email: str | None = "ap@client.example", phone: str | None = "+15555550100",
               currency: str = "USD") -> None:
        with self.conn, self.conn.cursor() as cur:
            cur.execute("delete from marts.dim_clients where client_id = %s", (client_id,))
            cur.execute("insert into marts.dim_clients values (%s, %s, %s, %s, %s, %s, %s, 'consolidated', %s)",
                        (client_id, f"Client {client_id}", email, phone, channel, autopay, method, currency))

    def invoice(self, number: str, client_id: str, total: str, *, issued: date, due: date,
                currency: str = "USD") -> int:
        with self.conn, self.conn.cursor() as cur:
            cur.execute(
                """insert into billing.invoices (invoice_key, invoice_number, status, kind, client_id, contract_ids,
                       currency, period_start, period_end, issue_date, due_date, subtotal, tax_total, total, issued_at)
                   values (%s, %s, 'issued', 'arrears', %s, '{K-1}', %s, %s, %s, %s, %s, %s, 0, %s, now())
                   returning invoice_id""",
                (number, number, client_id, currency, issued, issued, issued, due, total, total))
            return cur.fetchone()[0]

    def payment(self, payment_id: str, client_id: str, amount: str, received_on: date, *, invoice: str | None = None,
                method: str = "check", version: int = 1, known: bool = True, currency: str | None = "USD") -> None:
        with self.conn, self.conn.cursor() as cur:
            cur.execute(
                """insert into marts.fct_payments_received values (%s, %s, %s, %s, %s, %s, %s, %s, %s, null, %s,
                       'payments/lockbox.csv', %s, %s)""",
                (payment_id, version, version == 1, client_id, known, invoice, Decimal(amount), currency, method,
                 received_on, version + 1, f"{payment_id}:{version}"))

    def run(self, first: date, last: date | None = None, gateway=...) -> CollectionsSummary:
        channels = Channels(email=EmailFileOutbox(self.outbox / "email", "billing@vigil.example"),
                            sms=SmsFileOutbox(self.outbox / "sms", "+10000000000"))
        return run_days(self.conn, first, last or first, gateway=self.gateway if gateway is ... else gateway,
                        channels=channels, payments_mode="local", backoff_seconds=0)

    def rows(self, sql: str, params=()) -> list[tuple]:
        with self.conn.cursor() as cur:
            cur.execute(sql, params)
            found = cur.fetchall()
        self.conn.commit()
        return found

    def attempts(self, number: str) -> list[tuple]:
        """(attempt no, date, reason, status, decline, settled on) of the invoice's auto-pay attempts."""
        return self.rows(
            """select a.attempt_no, a.attempt_date, a.reason, a.status, a.decline, a.settled_on
               from billing.payment_attempts a join billing.invoices i using (invoice_id)
               where i.invoice_number = %s and a.channel = 'autopay' order by a.attempt_no""", (number,))

    def messages(self, number: str | None = None) -> list[tuple[str, date]]:
        """(message key, for_date) in order of day and key."""
        return self.rows(
            """select m.dedupe_key, m.business_date from billing.messages m
               left join billing.invoices i using (invoice_id)
               where %s::text is null or i.invoice_number = %s or m.dedupe_key like %s || ':%%'
               order by m.business_date, m.dedupe_key""", (number, number, number))

    def status(self, number: str) -> str:
        return self.rows("select status from billing.invoices where invoice_number = %s", (number,))[0][0]

    def balance(self, number: str) -> Decimal:
        return self.rows(
            """select i.total - coalesce(sum(e.amount) filter (where e.entry_type in ('payment', 'credit')), 0)
               from billing.invoices i left join billing.ledger_entries e using (invoice_id)
               where i.invoice_number = %s group by i.invoice_id""", (number,))[0][0]

    def dunning(self, number: str) -> list[tuple[str, date]]:
        return self.rows(
            """select d.status, d.for_date from billing.dunning_events d join billing.invoices i using (invoice_id)
               where i.invoice_number = %s order by d.for_date, d.status""", (number,))

    def set_method(self, client_id: str, method: str, day: date) -> None:
        from billing.collections.methods import set_from_portal

        with self.conn, self.conn.cursor() as cur:
            set_from_portal(cur, client_id, method, day)
