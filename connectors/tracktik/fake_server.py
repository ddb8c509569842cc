"""A local stand-in for TrackTik's REST API, for tests and the demo, on
connectors.fake_http.LocalServer (127.0.0.1, ephemeral port).

It issues OAuth2 tokens (`POST /rest/oauth2/access_token`, grants `password` and
`refresh_token`, form or JSON body) that expire after `token_ttl` seconds, pages every
`GET /rest/v1/<resource>` with `limit`/`offset` and the `meta` envelope, rejects a `page`
parameter (400), requires `startDateTime:between=a|b` on shifts and
`startedOn:between=a|b` on work-sessions and refuses spans over 31 days (400), and can
answer 429 (with Retry-After) or 503 a given number of times (LocalServer.fail_next) or
forget every access token, so retries and token refresh are exercised over real HTTP."""

from __future__ import annotations

import json
import secrets
import time
from collections.abc import Callable
from datetime import timedelta
from typing import Any
from urllib.parse import parse_qs, urlsplit

from connectors.fake_http import ANSWER, LocalServer, aware_instant

RESOURCES = ("work-sessions", "shifts", "employees", "positions", "clients")
# resource -> the time filter it requires
WINDOW_FILTERS = {"shifts": "startDateTime", "work-sessions": "startedOn"}
MAX_SPAN = timedelta(days=31)


class FakeTrackTik(LocalServer):
    """Context manager: `with FakeTrackTik(records) as fake: fake.base_url`.

    `records` maps a resource (`shifts`, `employees`, `positions`, `clients`) to its items,
    e.g. `simulator.records_for_server(world)`."""

    def __init__(self, records: dict[str, list[dict[str, Any]]] | None = None, *,
                 client_id: str = "vigil", client_secret: str = "vigil-secret", username: str = "api-user",
                 password: str = "api-pass", token_ttl: int = 3600, default_limit: int = 10,
                 max_limit: int = 100, clock: Callable[[], float] = time.time):
        self.records = {r: list((records or {}).get(r, [])) for r in RESOURCES}
        self.client_id, self.client_secret = client_id, client_secret
        self.username, self.password = username, password
        self.token_ttl, self.default_limit, self.max_limit = token_ttl, default_limit, max_limit
        self.clock = clock
        self.tokens: dict[str, float] = {}  # access token -> expiry (clock seconds)
        self.refresh_tokens: set[str] = set()
        self.grants: list[str] = []  # grant types issued, in order
        super().__init__()

    def expire_tokens(self) -> None:
        """Every access token expires now (refresh tokens stay valid), as after an hour."""
        with self.lock:
            self.tokens = dict.fromkeys(self.tokens, 0.0)

    def add(self, resource: str, items: list[dict[str, Any]]) -> None:
        with self.lock:
            self.records[resource].extend(items)

    @property
    def base_url(self) -> str:
        return self.url

    def data_requests(self, resource: str) -> list[str]:
        return [path for method, path, _ in self.requests if method == "GET" and
                urlsplit(path).path == f"/rest/v1/{resource}"]

    # --- request handling ---------------------------------------------------------------------
    def answer(self, method: str, path: str, query: dict[str, list[str]], headers: dict[str, str],
               body: bytes) -> ANSWER:
        flat = {k: v[-1] for k, v in query.items()}
        if path == "/rest/oauth2/access_token" and method == "POST":
            return self._token(body, headers.get("content-type", ""))
        if method != "GET" or not path.startswith("/rest/v1/"):
            return 404, {"status": 404, "message": f"no route {method} {path}"}, {}
        resource = path[len("/rest/v1/"):].strip("/")
        if resource not in RESOURCES:
            return 404, {"status": 404, "message": f"unknown resource {resource!r}"}, {}
        auth = headers.get("authorization", "")
        token = auth[7:] if auth.startswith("Bearer ") else None
        with self.lock:
            expiry = self.tokens.get(token or "")
        if expiry is None or expiry <= self.clock():
            return 401, {"error": "invalid_token", "error_description": "The access token provided is invalid "
                                                                        "or has expired"}, {}
        return self._list(resource, flat)

    def _token(self, body: bytes, content_type: str):
        text = body.decode("utf-8", errors="replace")
        if "json" in content_type:
            try:
                form = {str(k): str(v) for k, v in json.loads(text or "{}").items()}
            except (ValueError, AttributeError):
                return 400, {"error": "invalid_request", "error_description": "body is not JSON"}, {}
        else:
            form = {k: v[-1] for k, v in parse_qs(text).items()}
        if form.get("client_id") != self.client_id or form.get("client_secret") != self.client_secret:
            return 401, {"error": "invalid_client", "error_description": "Client authentication failed"}, {}
        grant = form.get("grant_type")
        if grant == "password":
            if form.get("username") != self.username or form.get("password") != self.password:
                return 401, {"error": "invalid_grant", "error_description": "Invalid username and password "
                                                                            "combination"}, {}
        elif grant == "refresh_token":
            with self.lock:
                known = form.get("refresh_token") in self.refresh_tokens
                if known:
                    self.refresh_tokens.discard(form["refresh_token"])  # refresh tokens rotate
            if not known:
                return 400, {"error": "invalid_grant", "error_description": "Invalid refresh token"}, {}
        else:
            return 400, {"error": "unsupported_grant_type", "error_description": f"grant_type {grant!r}"}, {}
        access, refresh = secrets.token_hex(16), secrets.token_hex(16)
        with self.lock:
            self.tokens[access] = self.clock() + self.token_ttl
            self.refresh_tokens.add(refresh)
            self.grants.append(grant)
        return 200, {"access_token": access, "token_type": "Bearer", "expires_in": self.token_ttl,
                     "refresh_token": refresh, "scope": None}, {}

    def _list(self, resource: str, query: dict[str, str]):
        if "page" in query:
            return 400, {"status": 400, "message": "Unknown parameter 'page': use limit and offset"}, {}
        if resource == "shifts" and "include" in query:
            return 400, {"status": 400, "message": "include is not supported on shifts"}, {}
        try:
            limit = int(query.get("limit", self.default_limit))
            offset = int(query.get("offset", 0))
        except ValueError:
            return 400, {"status": 400, "message": "limit and offset must be integers"}, {}
        if limit < 1 or offset < 0:
            return 400, {"status": 400, "message": "limit must be >= 1 and offset >= 0"}, {}
        limit = min(limit, self.max_limit)
        with self.lock:
            items = list(self.records[resource])
        if resource in WINDOW_FILTERS:
            key = WINDOW_FILTERS[resource]
            between = query.get(f"{key}:between")
            if not between:
                return 400, {"status": 400, "message": f"{resource} require a {key}:between=a|b filter"}, {}
            low, _, high = between.partition("|")
            a, b = aware_instant(low), aware_instant(high)
            if a is None or b is None or b < a:
                return 400, {"status": 400, "message": f"bad startDateTime:between {between!r}"}, {}
            if b - a > MAX_SPAN:
                return 400, {"status": 400, "message": f"{key}:between may span at most 31 days"}, {}
            items = [i for i in items if (at := aware_instant(i.get(key))) is not None and a <= at <= b]
        items.sort(key=lambda i: (i.get("id") is None, i.get("id") if isinstance(i.get("id"), int) else 0))
        chunk = items[offset:offset + limit]
        return 200, {"meta": {"count": len(items), "itemCount": len(chunk), "limit": limit, "offset": offset},
                     "data": chunk}, {}
