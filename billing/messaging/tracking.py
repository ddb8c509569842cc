"""Delivery tracking: what SendGrid's event webhook and Twilio's status callbacks report,
attached to the message it is about (billing.message_events), and the addresses finance
must correct (billing.address_flags).

- Each provider event is recorded once: SendGrid's `sg_event_id`, for Twilio (which sends
  no id) `<MessageSid>:<MessageStatus>`. A repeated event changes nothing.
- The message's `delivery_status` only moves forward, whatever order events arrive in:
  delivered, then a failure report (bounced, dropped, failed), then opened, then clicked
  (an open proves receipt, so it outranks an earlier failure report). Every event is kept
  with the provider's time, so the messages export lists them all as `{type, at}`.
- A hard bounce, an address SendGrid drops as bounced or invalid, and a number Twilio
  calls invalid, unreachable for good or opted out, flag the client's address: one open
  flag per address until finance clears it.
The signatures are checked before anything here runs (vigil_app/web/webhooks)."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import UTC, date, datetime

EVENT_TYPES = ("delivered", "opened", "clicked", "bounced", "dropped", "failed")
RANK = {"delivered": 1, "bounced": 2, "dropped": 2, "failed": 2, "opened": 3, "clicked": 4}

SENDGRID_EVENTS = {"delivered": "delivered", "open": "opened", "click": "clicked", "bounce": "bounced",
                   "dropped": "dropped"}
# SendGrid drops mail to addresses it knows are bad: the address needs correcting.
SENDGRID_BAD_ADDRESS_DROPS = ("Bounced Address", "Invalid", "Spam Reporting Address", "Unsubscribed Address")
TWILIO_EVENTS = {"delivered": "delivered", "undelivered": "failed", "failed": "failed", "canceled": "failed",
                 "read": "opened"}
# https://www.twilio.com/docs/api/errors: the number itself is wrong or refuses messages.
TWILIO_BAD_NUMBER_CODES = {"21211": "invalid number", "21214": "number cannot be reached",
                           "21610": "the recipient replied STOP", "21614": "not a mobile number",
                           "30005": "unknown destination handset", "30006": "landline or unreachable carrier"}


@dataclass(frozen=True)
class DeliveryEvent:
    provider: str  # sendgrid | twilio
    event_id: str
    event: str  # one of EVENT_TYPES
    occurred_at: datetime
    message_key: str | None  # SendGrid: the custom arg every Vigil email carries
    provider_message_id: str | None  # Twilio's MessageSid, SendGrid's X-Message-Id
    detail: str | None
    bad_address: str | None = None  # why the address should be corrected


@dataclass
class Outcome:
    recorded: int = 0
    duplicates: int = 0
    unknown_message: int = 0
    ignored: int = 0
    flagged: int = 0

    def as_dict(self) -> dict[str, int]:
        return dict(self.__dict__)


def sendgrid_events(payload: list) -> tuple[list[DeliveryEvent], int]:
    """SendGrid's event webhook body (a JSON array) as delivery events, and how many of its
    entries are of kinds not tracked (processed, deferred, spamreport, ...)."""
    events, ignored = [], 0
    for item in payload:
        kind = SENDGRID_EVENTS.get(item.get("event")) if isinstance(item, dict) else None
        if kind is None:
            ignored += 1
            continue
        event_id = str(item.get("sg_event_id") or hashlib.sha256(json.dumps(item, sort_keys=True).encode())
                       .hexdigest())
        try:
            occurred = datetime.fromtimestamp(int(item["timestamp"]), UTC)
        except (KeyError, TypeError, ValueError, OverflowError):
            occurred = datetime.now(UTC)
        reason = item.get("reason") or item.get("response") or item.get("url") or item.get("status")
        bad = None
        if kind == "bounced" and item.get("type", "bounce") == "bounce":
            bad = f"email bounced: {reason or 'no reason given'}"
        elif kind == "dropped" and item.get("reason") in SENDGRID_BAD_ADDRESS_DROPS:
            bad = f"email dropped by SendGrid: {item['reason']}"
        sg_message_id = str(item.get("sg_message_id") or "").split(".", 1)[0] or None
        events.append(DeliveryEvent("sendgrid", event_id, kind, occurred, item.get("message_key"), sg_message_id,
                                    str(reason)[:500] if reason else None, bad))
    return events, ignored


def twilio_event(form: dict[str, str], received_at: datetime) -> DeliveryEvent | None:
    """A Twilio status callback as a delivery event; None for statuses not tracked (queued,
    sending, sent, ...). Twilio gives no time: the arrival time stands for it."""
    status, sid = form.get("MessageStatus") or form.get("SmsStatus"), form.get("MessageSid") or form.get("SmsSid")
    kind = TWILIO_EVENTS.get(status or "")
    if kind is None or not sid:
        return None
    code = form.get("ErrorCode") or None
    detail = f"{status}" + (f", error {code}" if code else "")
    bad = f"SMS {status}: error {code}, {TWILIO_BAD_NUMBER_CODES[code]}" if code in TWILIO_BAD_NUMBER_CODES else None
    return DeliveryEvent("twilio", f"{sid}:{status}", kind, received_at, None, sid, detail, bad)


def _message(cur, event: DeliveryEvent) -> tuple | None:
    columns = "message_id, client_id, channel, recipient, delivery_status"
    if event.message_key:
        cur.execute(f"select {columns} from billing.messages where dedupe_key = %s for update", (event.message_key,))
        found = cur.fetchone()
        if found:
            return found
    if event.provider_message_id:
        cur.execute(f"""select {columns} from billing.messages where provider_message_id = %s
                        order by message_id limit 1 for update""", (event.provider_message_id,))
        return cur.fetchone()
    return None


def record_events(conn, events: list[DeliveryEvent], for_date: date) -> Outcome:
    """Attach each event to its message (one transaction per event); `for_date` is the
    business day they arrived."""
    outcome = Outcome()
    for event in events:
        with conn, conn.cursor() as cur:
            found = _message(cur, event)
            if found is None:
                outcome.unknown_message += 1
                continue
            message_id, client_id, channel, recipient, status = found
            cur.execute(
                """insert into billing.message_events (message_id, event, detail, occurred_at, provider,
                       provider_event_id, for_date)
                   values (%s, %s, %s, %s, %s, %s, %s)
                   on conflict (provider, provider_event_id) where provider_event_id is not null do nothing
                   returning event_no""",
                (message_id, event.event, event.detail, event.occurred_at, event.provider, event.event_id, for_date),
            )
            if cur.fetchone() is None:
                outcome.duplicates += 1
                continue
            outcome.recorded += 1
            if status is None or RANK[event.event] > RANK[status]:
                cur.execute("""update billing.messages set delivery_status = %s, delivery_status_at = %s
                               where message_id = %s""", (event.event, event.occurred_at, message_id))
            if event.bad_address:
                cur.execute(
                    """insert into billing.address_flags (client_id, channel, address, reason, flagged_on, message_id,
                           provider_event_id)
                       values (%s, %s, %s, %s, %s, %s, %s)
                       on conflict (client_id, channel, address) where cleared_on is null do nothing
                       returning flag_id""",
                    (client_id, "sms" if channel == "sms" else "email", recipient, event.bad_address, for_date,
                     message_id, event.event_id),
                )
                outcome.flagged += cur.fetchone() is not None
    return outcome


def open_address_flags(conn) -> list[dict]:
    """What finance must correct (the console shows it): one row per flagged address."""
    with conn.cursor() as cur:
        cur.execute("""select flag_id, client_id, channel, address, reason, flagged_on from billing.address_flags
                       where cleared_on is null order by flagged_on, flag_id""")
        columns = [column.name for column in cur.description]
        return [dict(zip(columns, row, strict=True)) for row in cur.fetchall()]


def clear_address_flag(conn, flag_id: int, cleared_by: str, note: str, on: date) -> bool:
    """Finance corrected the address (in the contract file): the flag closes, recorded with who and when."""
    with conn, conn.cursor() as cur:
        cur.execute("""update billing.address_flags set cleared_on = %s, cleared_by = %s, cleared_note = %s
                       where flag_id = %s and cleared_on is null""", (on, cleared_by, note, flag_id))
        return cur.rowcount == 1


def delivery_events(conn) -> dict[int, list[dict]]:
    """Message id -> its provider events as the messages export lists them (interfaces.md
    section 5: `events: [{type, at}]`), oldest first; Vigil's own sent/failed records are not
    provider events and are left out."""
    with conn.cursor() as cur:
        cur.execute("""select message_id, event, occurred_at from billing.message_events
                       where provider is not null order by message_id, occurred_at, event_no""")
        out: dict[int, list[dict]] = {}
        for message_id, event, occurred_at in cur.fetchall():
            out.setdefault(message_id, []).append({"type": event, "at": occurred_at.astimezone(UTC).isoformat()})
    return out
