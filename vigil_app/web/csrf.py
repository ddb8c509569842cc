"""CSRF tokens for every form: a signed token bound to who may post it (a portal link or a
console session) and to the form, checked on every POST before anything changes. A
browser's Sec-Fetch-Site (or Origin) must say the POST came from this site."""

from __future__ import annotations

import hashlib

from starlette.requests import Request

from vigil import signing

PURPOSE = "csrf"
FIELD = "csrf_token"


def _bound(binding: str) -> str:
    return hashlib.sha256(binding.encode()).hexdigest()[:32]


def token(binding: str, form: str) -> str:
    """The hidden-field value for `form`, for the holder of `binding` (a link token, a session id)."""
    return signing.sign(PURPOSE, {"b": _bound(binding), "f": form})


def valid(binding: str, form: str, submitted: str | None) -> bool:
    if not submitted:
        return False
    try:
        payload = signing.unsign(PURPOSE, submitted)
    except signing.BadToken:
        return False
    return payload.get("b") == _bound(binding) and payload.get("f") == form


def same_origin(request: Request) -> bool:
    """Whether a POST may come from this site's own pages. Browsers say so in Sec-Fetch-Site;
    without it, an Origin, when one is sent, must be this host. With Referrer-Policy
    no-referrer a browser sends `Origin: null` even for its own forms, so null proves
    nothing either way: the token still has to match."""
    fetch_site = request.headers.get("sec-fetch-site")
    if fetch_site:
        return fetch_site in ("same-origin", "none")
    origin = request.headers.get("origin")
    if not origin or origin == "null":
        return True
    host = request.headers.get("host", "")
    return origin.split("://", 1)[-1] == host
