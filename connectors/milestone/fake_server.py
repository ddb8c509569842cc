"""A local stand-in for the Milestone XProtect API Gateway, for tests and the demo: the identity
provider's token endpoint and the REST lists.

It issues bearer tokens from `POST /API/IDP/connect/token` (form `grant_type=password`,
`client_id=GrantValidatorClient`) that expire after `token_lifetime` seconds, answers
`GET /api/rest/v1/{cameras,hardware,alarms,events}?page=&size=` with `{"array": [...]}` pages
counted from 0 and `GET /api/rest/v1/alarms/{id}/history` with the alarm's updates, refuses
anything else with the gateway's `{"error": {"httpCode", "details": [{"errorText"}]}}`, and
can inject 429/503 answers (connectors.fake_http.LocalServer). Objects are served as given."""

from __future__ import annotations

import re
import secrets
import time
from typing import Any
from urllib.parse import parse_qs

from connectors.fake_http import ANSWER, LocalServer

REST = "/api/rest/v1"
LISTS = ("cameras", "hardware", "alarms", "events")


def _error(status: int, text: str) -> ANSWER:
    return status, {"error": {"httpCode": status, "details": [{"errorText": text}]}}, {}


class FakeApiGateway(LocalServer):
    """`with FakeApiGateway(cameras, hardware, alarms, events, histories) as gw: gw.base_url` (the
    management server URL the client is given); `histories` maps an alarm id to its updates."""

    def __init__(self, cameras: list[dict[str, Any]] | None = None, hardware: list[dict[str, Any]] | None = None,
                 alarms: list[dict[str, Any]] | None = None, events: list[dict[str, Any]] | None = None,
                 histories: dict[str, list[dict[str, Any]]] | None = None, *, username: str = "vigil",
                 password: str = "secret", token_lifetime: int = 3600, max_page_size: int = 1000):
        super().__init__()
        self.data = {"cameras": list(cameras or []), "hardware": list(hardware or []), "alarms": list(alarms or []),
                     "events": list(events or [])}
        self.histories = {k.lower(): list(v) for k, v in (histories or {}).items()}
        self.username, self.password = username, password
        self.token_lifetime, self.max_page_size = token_lifetime, max_page_size
        self.tokens: dict[str, float] = {}
        self.token_requests = 0

    @property
    def base_url(self) -> str:
        return self.url

    def add(self, kind: str, items: list[dict[str, Any]]) -> None:
        with self.lock:
            self.data[kind].extend(items)

    def update(self, kind: str, ident: str, **changes: Any) -> None:
        with self.lock:
            for item in self.data[kind]:
                if item.get("id") == ident:
                    item.update(changes)

    def add_history(self, alarm_id: str, entries: list[dict[str, Any]]) -> None:
        with self.lock:
            self.histories.setdefault(alarm_id.lower(), []).extend(entries)

    def remove(self, kind: str, ident: str) -> None:
        with self.lock:
            self.data[kind] = [i for i in self.data[kind] if str(i.get("id")).lower() != ident.lower()]

    def revoke_tokens(self) -> None:
        """Invalidate every issued token, as a gateway recycle does."""
        with self.lock:
            self.tokens.clear()

    def answer(self, method: str, path: str, query: dict[str, list[str]], headers: dict[str, str],
               body: bytes) -> ANSWER:
        if path == "/API/IDP/connect/token" and method == "POST":
            return self._token(parse_qs(body.decode()))
        auth = headers.get("authorization", "")
        expires = self.tokens.get(auth[7:]) if auth.startswith("Bearer ") else None
        if expires is None or expires < time.time():
            status, payload, extra = _error(401, "Unauthorized")
            return status, payload, {**extra, "WWW-Authenticate": 'Bearer error="invalid_token"'}
        history = re.fullmatch(rf"{REST}/alarms/([^/]+)/history", path)
        if method == "GET" and history:
            alarm = history.group(1).lower()
            if not any(str(a.get("id")).lower() == alarm for a in self.data["alarms"]):
                return _error(404, f"Unknown alarm: {history.group(1)}")
            return 200, {"array": self.histories.get(alarm, [])}, {}
        kind = path[len(REST) + 1:] if path.startswith(REST + "/") else None
        if method != "GET" or kind not in LISTS:
            return _error(404, f"Unknown resource: {kind or path}")
        page = int((query.get("page") or ["0"])[0])
        size = min(int((query.get("size") or ["100"])[0]), self.max_page_size)
        return 200, {"array": self.data[kind][page * size:(page + 1) * size]}, {}

    def _token(self, form: dict[str, list[str]]) -> ANSWER:
        self.token_requests += 1
        get = {k: v[0] for k, v in form.items()}
        if get.get("grant_type") != "password" or get.get("client_id") != "GrantValidatorClient":
            return 400, {"error": "unsupported_grant_type"}, {}
        if (get.get("username"), get.get("password")) != (self.username, self.password):
            return 400, {"error": "invalid_grant", "error_description": "invalid_username_or_password"}, {}
        token = secrets.token_urlsafe(24)
        with self.lock:
            self.tokens[token] = time.time() + self.token_lifetime
        return 200, {"access_token": token, "expires_in": self.token_lifetime, "token_type": "Bearer",
                     "scope": "managementserver"}, {}
