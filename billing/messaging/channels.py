"""The channels a message leaves by (interfaces.md section 8). With a provider's keys the
provider's own SDK sends it; without them nothing is lost and nothing pretends to be sent:
email becomes a complete MIME file `outbox/email/<message_key>.eml` (HTML and text bodies,
the PDF attached), SMS a JSON file `outbox/sms/<message_key>.json` (`to`, `from`, `body`),
and the provider reference says `file:<path>`."""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import formatdate, make_msgid
from pathlib import Path


@dataclass(frozen=True)
class OutgoingMessage:
    message_key: str  # unique: the at-most-once key (invoice, template, attempt, channel)
    channel: str  # email | sms | portal | internal
    recipient: str
    subject: str
    text: str
    html: str | None = None
    attachment_name: str | None = None
    attachment: bytes | None = None


class SendError(Exception):
    """A send that failed; `transient` ones (timeouts, 429, 5xx) are worth another try."""

    def __init__(self, reason: str, transient: bool):
        super().__init__(reason)
        self.transient = transient


def _file_name(message_key: str) -> str:
    return message_key.replace("/", "_")


class EmailFileOutbox:
    """Email without a SendGrid key: one complete MIME message per file."""

    def __init__(self, folder: Path, from_email: str):
        self.folder = Path(folder)
        self.from_email = from_email

    def path_for(self, message_key: str) -> Path:
        return self.folder / f"{_file_name(message_key)}.eml"

    def send(self, message: OutgoingMessage) -> str:
        mime = EmailMessage()
        mime["From"], mime["To"], mime["Subject"] = self.from_email, message.recipient, message.subject
        mime["Date"] = formatdate(usegmt=True)
        mime["Message-ID"] = make_msgid(idstring=_file_name(message.message_key).replace(":", "."))
        mime["X-Vigil-Message-Key"] = message.message_key
        mime.set_content(message.text)
        if message.html:
            mime.add_alternative(message.html, subtype="html")
        if message.attachment is not None and message.attachment_name:
            mime.add_attachment(message.attachment, maintype="application", subtype="pdf",
                                filename=message.attachment_name)
        path = self.path_for(message.message_key)
        path.parent.mkdir(parents=True, exist_ok=True)
        temporary = path.with_suffix(".eml.part")
        temporary.write_bytes(bytes(mime))
        temporary.replace(path)  # the file appears whole or not at all: its presence means sent
        return f"file:{path}"


class SmsFileOutbox:
    """SMS without Twilio keys: `{"to", "from", "body"}` per file."""

    def __init__(self, folder: Path, from_number: str):
        self.folder = Path(folder)
        self.from_number = from_number

    def path_for(self, message_key: str) -> Path:
        return self.folder / f"{_file_name(message_key)}.json"

    def send(self, message: OutgoingMessage) -> str:
        path = self.path_for(message.message_key)
        path.parent.mkdir(parents=True, exist_ok=True)
        temporary = path.with_suffix(".json.part")
        temporary.write_text(json.dumps({"to": message.recipient, "from": self.from_number, "body": message.text},
                                        indent=2), encoding="utf-8")
        temporary.replace(path)
        return f"file:{path}"


class SendGridEmail:
    """The SendGrid v3 mail API through the official SDK; `host` points it at a loopback peer
    in tests. The message key travels as a custom arg, so delivery events find their message."""

    def __init__(self, api_key: str, from_email: str, host: str | None = None):
        import sendgrid

        self._client = sendgrid.SendGridAPIClient(api_key=api_key, **({"host": host} if host else {}))
        self.from_email = from_email

    def send(self, message: OutgoingMessage) -> str:
        from python_http_client.exceptions import HTTPError
        from sendgrid.helpers.mail import Attachment, CustomArg, Mail

        mail = Mail(from_email=self.from_email, to_emails=message.recipient, subject=message.subject,
                    plain_text_content=message.text, html_content=message.html or None)
        mail.add_custom_arg(CustomArg("message_key", message.message_key))
        if message.attachment is not None and message.attachment_name:
            mail.add_attachment(Attachment(base64.b64encode(message.attachment).decode(),
                                           message.attachment_name, "application/pdf", "attachment"))
        try:
            response = self._client.send(mail)
        except HTTPError as err:
            status = getattr(err, "status_code", 0) or 0
            raise SendError(f"SendGrid answered {status}: {getattr(err, 'body', b'')!r}"[:500],
                            transient=status == 429 or status >= 500) from err
        except OSError as err:  # connection refused, timeout, DNS
            raise SendError(f"SendGrid unreachable: {err}", transient=True) from err
        headers = {k.lower(): v for k, v in dict(response.headers or {}).items()}
        return headers.get("x-message-id") or f"sendgrid:{message.message_key}"


class TwilioSms:
    """SMS through the twilio SDK; `api_base` points it at a loopback peer in tests."""

    def __init__(self, account_sid: str, auth_token: str, from_number: str, api_base: str | None = None,
                 status_callback: str | None = None):
        from twilio.rest import Client

        self._client = Client(account_sid, auth_token)
        if api_base:
            self._client.api.base_url = api_base.rstrip("/")
        self.from_number = from_number
        self.status_callback = status_callback

    def send(self, message: OutgoingMessage) -> str:
        from twilio.base.exceptions import TwilioException, TwilioRestException

        options = {"status_callback": self.status_callback} if self.status_callback else {}
        try:
            sent = self._client.messages.create(to=message.recipient, from_=self.from_number, body=message.text,
                                                **options)
        except TwilioRestException as err:
            raise SendError(f"Twilio answered {err.status} (code {err.code}): {err.msg}"[:500],
                            transient=err.status == 429 or err.status >= 500) from err
        except (TwilioException, OSError) as err:
            raise SendError(f"Twilio unreachable: {err}", transient=True) from err
        return sent.sid


@dataclass
class Channels:
    """Who carries each channel. The portal channel posts a notice in the client portal and
    points to it by email; `internal` messages (sales alerts) go by email to the company."""

    email: object
    sms: object

    def send(self, message: OutgoingMessage) -> str:
        if not message.recipient:
            raise SendError(f"no {'phone number' if message.channel == 'sms' else 'email address'} for this client",
                            transient=False)
        if message.channel == "sms":
            return self.sms.send(message)
        if message.channel in ("email", "portal", "internal"):
            return self.email.send(message)
        raise SendError(f"unknown channel {message.channel!r}", transient=False)

    def file_for(self, channel: str, message_key: str) -> Path | None:
        """Where a file outbox puts this message, when the channel is a file outbox."""
        carrier = self.sms if channel == "sms" else self.email
        return carrier.path_for(message_key) if hasattr(carrier, "path_for") else None
