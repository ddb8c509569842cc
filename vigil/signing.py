"""Signed tokens for links in messages and for forms: an HMAC-SHA256 of the purpose and a
JSON payload, keyed by `VIGIL_SECRET_KEY` (or a key generated once under $VIGIL_HOME).

The payload is readable (signed, not encrypted): never put a secret in it. Each purpose
("portal", "csrf", "session", ...) signs with its own derived key, so a token made for
one use is refused for another. Expiry is a business date inside the payload, judged by
the business clock (vigil/clock.py), so a test clock moves it like everything else."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import secrets
from functools import cache

from vigil import config


class BadToken(Exception):
    """Tampered, malformed or signed for another purpose."""


@cache
def _secret() -> bytes:
    from_env = os.environ.get("VIGIL_SECRET_KEY")
    if from_env:
        return from_env.encode()
    path = config.paths().home / "secret_key"
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as handle:
            handle.write(secrets.token_urlsafe(48))
    return path.read_text().strip().encode()


def reset_cache() -> None:
    _secret.cache_clear()


def _key(purpose: str) -> bytes:
    return hmac.new(_secret(), f"vigil:{purpose}".encode(), hashlib.sha256).digest()


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def sign(purpose: str, payload: dict) -> str:
    body = json.dumps(payload, separators=(",", ":"), sort_keys=True).encode()
    mac = hmac.new(_key(purpose), body, hashlib.sha256).digest()
    return f"{_b64(body)}.{_b64(mac)}"


def unsign(purpose: str, token: str) -> dict:
    try:
        body_text, mac_text = token.split(".", 1)
        body, mac = _unb64(body_text), _unb64(mac_text)
    except (ValueError, TypeError) as err:
        raise BadToken("malformed token") from err
    if not hmac.compare_digest(mac, hmac.new(_key(purpose), body, hashlib.sha256).digest()):
        raise BadToken("bad signature")
    try:
        payload = json.loads(body)
    except ValueError as err:
        raise BadToken("malformed payload") from err
    if not isinstance(payload, dict):
        raise BadToken("malformed payload")
    return payload
