"""Signed, expiring links into the client portal (interfaces.md section 7): messages carry
them, the portal honours them. A link names its client, a scope (what it opens: the
client's invoices, one invoice's payment, a renewal offer) and the last business day it
works; it is signed with the product's secret (vigil/signing.py) and judged by the business
clock, so a test clock expires it like a real one."""

from __future__ import annotations

import os
from dataclasses import dataclass
from datetime import date, timedelta

from vigil import signing

PURPOSE = "portal"
PAY_LINK_DAYS = 30  # collections.md section 3: payment links expire after 30 days


class LinkRefused(Exception):
    """Tampered, malformed, expired, or not for what it is used for: the portal answers 403."""


@dataclass(frozen=True)
class Grant:
    client_id: str
    scope: str  # "invoices" | "invoice:<number>" | "renewal:<contract id>"
    expires: date

    def allows_invoice(self, number: str) -> bool:
        return self.scope in ("invoices", f"invoice:{number}")


def public_url() -> str:
    return os.environ.get("VIGIL_PUBLIC_URL", "http://127.0.0.1:8080").rstrip("/")


def token_for(client_id: str, scope: str, expires: date) -> str:
    return signing.sign(PURPOSE, {"c": client_id, "s": scope, "e": expires.isoformat()})


def portal_link(client_id: str, scope: str, issued_on: date, days: int = PAY_LINK_DAYS) -> str:
    """The full URL of a portal page for `scope`, valid through `issued_on + days`."""
    token = token_for(client_id, scope, issued_on + timedelta(days=days))
    return f"{public_url()}/portal/{token}"


def invoice_path(token: str, number: str) -> str:
    """The portal page of one invoice or credit note (HTML; `/pdf` downloads it, `/pay` pays it)."""
    return f"/portal/{token}/invoices/{number}"


def invoice_paths(client_id: str, number: str, issued_on: date, days: int = PAY_LINK_DAYS) -> tuple[str, str, date]:
    """The view and pay paths of an invoice under a link scoped to it alone, valid through
    `issued_on + days`, and that last day."""
    expires = issued_on + timedelta(days=days)
    view = invoice_path(token_for(client_id, f"invoice:{number}", expires), number)
    return view, f"{view}/pay", expires


def read_grant(token: str, today: date) -> Grant:
    """What a link allows on business day `today`; LinkRefused when it allows nothing."""
    try:
        payload = signing.unsign(PURPOSE, token)
        grant = Grant(str(payload["c"]), str(payload["s"]), date.fromisoformat(payload["e"]))
    except (signing.BadToken, KeyError, TypeError, ValueError) as err:
        raise LinkRefused("invalid link") from err
    if today > grant.expires:
        raise LinkRefused("expired link")
    return grant
