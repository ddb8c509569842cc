"""A local stand-in for the Milestone XProtect API Gateway, for tests and the demo
(research section 2): the identity provider's token endpoint and the REST lists.

It issues bearer tokens from `POST /API/IDP/connect/token` (form `grant_type=password`,
`client_id=GrantValidatorClient`) that expire after `token_lifetime` seconds, answers
`GET /api/rest/v1/{cameras,alarms,events}?page=&size=` with `{"array": [...]}` pages
counted from 0, and can inject 429/503 answers (connectors.fake_http.LocalServer)."""

from __future__ import annotations

import secrets
import time
from typing import Any
from urllib.parse import parse_qs

from connectors.fake_http import ANSWER, LocalServer

REST = "/api/rest/v1"


class FakeApiGateway(LocalServer):
    """`with FakeApiGateway(cameras, alarms, events) as gw: gw.base_url` (the management
    server URL the client is given)."""

    def __init__(self, cameras: list[dict[str, Any]] | None = None, alarms: list[dict[str, Any]] | None = None,
                 events: list[dict[str, Any]] | None = None, *, username: str = "vigil", password: str = "secret",
                 token_lifetime: int = 3600, max_page_size: int = 1000):
        super().__init__()
        self.data = {"cameras": list(cameras or []), "alarms": list(alarms or []), "events": list(events or [])}
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
            return 401, {"error": {"httpCode": 401, "details": [{"errorText": "Unauthorized"}]}}, {
                "WWW-Authenticate": 'Bearer error="invalid_token"'}
        kind = path[len(REST) + 1:] if path.startswith(REST + "/") else None
        if method != "GET" or kind not in self.data:
            return 404, {"error": {"httpCode": 404, "details": [{"errorText": f"no route {method} {path}"}]}}, {}
        page = int((query.get("page") or ["0"])[0])
        size = min(int((query.get("size") or ["100"])[0]), self.max_page_size)
        items = self.data[kind]
        if kind == "alarms" and "history" not in (query.get("include") or [""])[0]:
            items = [{k: v for k, v in a.items() if k != "history"} for a in items]
        return 200, {"array": items[page * size:(page + 1) * size]}, {}

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
