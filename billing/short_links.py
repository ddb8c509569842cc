"""Short links for an SMS and a printed page: `<public url>/portal/s/<code>` opens a signed
portal link (billing/links.py) that is too long to type or to fit a text message well.

The code is keyed by the product's secret (vigil/signing.py) and derived from the link it
opens, so rendering the same invoice twice gives the same code, and nobody without the
secret can produce or guess one (12 characters, 72 bits). A code only names the page to
open: the signed link behind it still decides what it shows and until when, so a code
never outlives or widens its link."""

from __future__ import annotations

from datetime import date

from billing.links import public_url
from vigil import signing

PURPOSE = "short-link"
CODE_LENGTH = 12
PREFIX = "/portal/s/"


def _code(target: str) -> str:
    mac = signing.sign(PURPOSE, {"t": target}).rsplit(".", 1)[1]
    return mac[:CODE_LENGTH]


def shorten(cur, client_id: str, target: str, expires_on: date) -> str:
    """The short URL for `target` (a portal path with its signed token), recorded once."""
    code = _code(target)
    cur.execute(
        """insert into billing.short_links (code, client_id, target, expires_on) values (%s, %s, %s, %s)
           on conflict (code) do nothing""",
        (code, client_id, target, expires_on),
    )
    return f"{public_url()}{PREFIX}{code}"


def resolve(cur, code: str) -> str | None:
    """The portal path a code opens, or None for a code never issued."""
    if len(code) != CODE_LENGTH:
        return None
    cur.execute("select target from billing.short_links where code = %s", (code,))
    row = cur.fetchone()
    return row[0] if row else None
