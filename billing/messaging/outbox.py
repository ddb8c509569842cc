"""The message log (billing.messages): every message goes out at most once.

A message is recorded `pending` under its unique key and committed before it is sent, then
marked `sent` (with the provider's reference) or, after the last of a few tries with
backoff, `failed` with the reason. A message found still `pending` at the start of a run
was interrupted by a crash: through a file outbox its file tells whether it went out (it is
finished: marked sent, or sent now); through a provider nobody can tell, so it is never sent
again and is reported (an `interrupted` event, the delivery asset's metadata and check)."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from datetime import date

from billing.messaging.channels import Channels, OutgoingMessage, SendError
from vigil.clock import Seconds

TRIES = 3


@dataclass
class SendSummary:
    sent: int = 0
    failed: int = 0
    by_channel: dict[str, int] = field(default_factory=dict)
    finished_after_crash: int = 0
    interrupted: list[str] = field(default_factory=list)  # keys left pending that nobody can confirm

    def count(self, channel: str) -> None:
        self.sent += 1
        self.by_channel[channel] = self.by_channel.get(channel, 0) + 1


def _event(cur, message_id: int, event: str, detail: str | None) -> None:
    cur.execute("insert into billing.message_events (message_id, event, detail) values (%s, %s, %s)",
                (message_id, event, detail))


def _mark_sent(conn, message_id: int, provider_ref: str, attempts: int) -> None:
    with conn, conn.cursor() as cur:
        cur.execute("""update billing.messages set status = 'sent', provider_message_id = %s, sent_at = now(),
                           attempts = %s, last_error = null where message_id = %s""",
                    (provider_ref, attempts, message_id))
        _event(cur, message_id, "sent", provider_ref)


def _mark_failed(conn, message_id: int, reason: str, attempts: int) -> None:
    with conn, conn.cursor() as cur:
        cur.execute("""update billing.messages set status = 'failed', attempts = %s, last_error = %s
                       where message_id = %s""", (attempts, reason[:1000], message_id))
        _event(cur, message_id, "failed", reason[:1000])


def _send_with_retries(conn, channels: Channels, message: OutgoingMessage, message_id: int,
                       backoff_seconds: Seconds) -> bool:
    for attempt in range(1, TRIES + 1):
        try:
            provider_ref = channels.send(message)
        except SendError as err:
            if err.transient and attempt < TRIES:
                time.sleep(backoff_seconds * 2 ** (attempt - 1))
                continue
            _mark_failed(conn, message_id, f"{err} (after {attempt} tr{'y' if attempt == 1 else 'ies'})", attempt)
            return False
        _mark_sent(conn, message_id, provider_ref, attempt)
        return True
    return False  # not reached: the last try either returns or marks failed


def deliver(conn, channels: Channels, message: OutgoingMessage, *, client_id: str, template: str, for_date: date,
            summary: SendSummary, invoice_id: int | None = None, contract_id: str | None = None,
            link: str | None = None, backoff_seconds: Seconds = 1.0) -> bool:
    """Record and send one message unless its key was recorded before. True when sent now."""
    with conn, conn.cursor() as cur:
        cur.execute(
            """insert into billing.messages (dedupe_key, client_id, invoice_id, contract_id, template, channel,
                   recipient, subject, status, business_date, link)
               values (%s, %s, %s, %s, %s, %s, %s, %s, 'pending', %s, %s)
               on conflict (dedupe_key) do nothing returning message_id""",
            (message.message_key, client_id, invoice_id, contract_id, template, message.channel, message.recipient,
             message.subject, for_date, link),
        )
        row = cur.fetchone()
    if row is None:
        return False
    if _send_with_retries(conn, channels, message, row[0], backoff_seconds):
        summary.count(message.channel)
        return True
    summary.failed += 1
    return False


def settle_interrupted(conn, channels: Channels, summary: SendSummary) -> None:
    """Messages a crash left `pending`: finished when a file outbox shows them written,
    otherwise reported once and never sent again."""
    with conn.cursor() as cur:
        cur.execute(
            """select m.message_id, m.dedupe_key, m.channel,
                      exists (select 1 from billing.message_events e
                              where e.message_id = m.message_id and e.event = 'interrupted') as reported
               from billing.messages m where m.status = 'pending' order by m.message_id"""
        )
        pending = cur.fetchall()
    conn.commit()
    for message_id, key, channel, reported in pending:
        written = channels.file_for(channel, key)
        if written is not None and written.exists():
            _mark_sent(conn, message_id, f"file:{written}", 1)
            summary.finished_after_crash += 1
            continue
        if written is not None:
            # A file outbox without the file: the crash came before the send and nothing went
            # out, so the record goes and this run's delivery sends the message anew.
            with conn, conn.cursor() as cur:
                cur.execute("delete from billing.message_events where message_id = %s", (message_id,))
                cur.execute("delete from billing.messages where message_id = %s", (message_id,))
            continue
        summary.interrupted.append(key)
        if not reported:
            with conn, conn.cursor() as cur:
                _event(cur, message_id, "interrupted",
                       "a run stopped while this message was being sent; the provider may or may not have it. "
                       "It is not sent again: check the provider's activity for this message key.")
