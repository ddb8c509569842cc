"""A local stand-in for the Avigilon ACC Web Endpoint API, for tests and the demo
(research section 3).

`POST /login` checks the partner authorization token (`nonce:unixSecs:hex(sha256(unixSecs
+ userKey))`, within five minutes of the server clock) and the user, and returns
`result.session`; later calls must carry it in `x-avg-session` (or `?session=`).
`GET /events/search` answers TIME_RANGE queries per server in pages of `limit` with a
base64 `token` for `queryType=CONTINUE`; `GET /cameras` and `GET /alarms` list the rest.
Faults (429/503) come from connectors.fake_http.LocalServer."""

from __future__ import annotations

import base64
import hashlib
import json
import secrets
import time
from datetime import datetime
from typing import Any

from connectors.fake_http import ANSWER, LocalServer

BASE = "/mt/api/rest/v1"


def _at(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


class FakeWebEndpoint(LocalServer):
    def __init__(self, cameras: list[dict[str, Any]] | None = None, alarms: list[dict[str, Any]] | None = None,
                 events: list[dict[str, Any]] | None = None, *, username: str = "vigil", password: str = "secret",
                 user_nonce: str = "nonce-123", user_key: str = "key-456", max_limit: int = 1000):
        super().__init__()
        self.cameras, self.alarms, self.events = list(cameras or []), list(alarms or []), list(events or [])
        self.username, self.password = username, password
        self.user_nonce, self.user_key = user_nonce, user_key
        self.max_limit = max_limit
        self.sessions: set[str] = set()
        self.logins = 0

    @property
    def base_url(self) -> str:
        return f"{self.url}{BASE}"

    def add_events(self, events: list[dict[str, Any]]) -> None:
        with self.lock:
            self.events.extend(events)

    def expire_sessions(self) -> None:
        with self.lock:
            self.sessions.clear()

    def answer(self, method: str, path: str, query: dict[str, list[str]], headers: dict[str, str],
               body: bytes) -> ANSWER:
        route = path[len(BASE):] if path.startswith(BASE) else None
        if route == "/login" and method == "POST":
            return self._login(body)
        session = headers.get("x-avg-session") or (query.get("session") or [""])[0]
        if session not in self.sessions:
            return 401, {"status": "error", "message": "Invalid or expired session"}, {}
        q = {k: v[0] for k, v in query.items()}
        if method == "GET" and route == "/cameras":
            return 200, {"status": "success", "result": {"cameras": self.cameras}}, {}
        if method == "GET" and route == "/alarms":
            return 200, {"status": "success", "result": {"alarms": self.alarms}}, {}
        if method == "GET" and route == "/events/search":
            return self._search(q)
        return 404, {"status": "error", "message": f"no route {method} {path}"}, {}

    def _login(self, body: bytes) -> ANSWER:
        self.logins += 1
        try:
            data = json.loads(body or b"{}")
            nonce, secs, digest = str(data.get("authorizationToken", "")).split(":")[:3]
        except ValueError:
            return 400, {"status": "error", "message": "malformed login"}, {}
        expected = hashlib.sha256(f"{secs}{self.user_key}".encode()).hexdigest()
        if nonce != self.user_nonce or digest != expected or abs(time.time() - int(secs)) > 300:
            return 401, {"status": "error", "message": "Invalid authorization token"}, {}
        if (data.get("username"), data.get("password")) != (self.username, self.password):
            return 401, {"status": "error", "message": "Invalid username or password"}, {}
        session = secrets.token_hex(16)
        with self.lock:
            self.sessions.add(session)
        return 200, {"status": "success", "result": {"session": session}}, {}

    def _search(self, q: dict[str, str]) -> ANSWER:
        if q.get("queryType") == "CONTINUE":
            try:
                state = json.loads(base64.b64decode(q.get("token", "")))
            except ValueError:
                return 400, {"status": "error", "message": "bad continuation token"}, {}
        elif q.get("queryType") == "TIME_RANGE":
            if not q.get("serverId") or not q.get("from") or not q.get("to"):
                return 400, {"status": "error", "message": "serverId, from and to are required"}, {}
            state = {"serverId": q["serverId"], "from": q["from"], "to": q["to"], "offset": 0,
                     "limit": min(int(q.get("limit") or 1000), self.max_limit)}
        else:
            return 400, {"status": "error", "message": f"unsupported queryType {q.get('queryType')!r}"}, {}
        lo, hi = _at(state["from"]), _at(state["to"])
        hits = [e for e in self.events if e.get("originatingServerId") == state["serverId"]
                and isinstance(e.get("timestamp"), str) and lo <= _at(e["timestamp"]) <= hi]
        start, limit = state["offset"], state["limit"]
        page = hits[start:start + limit]
        result: dict[str, Any] = {"events": page}
        if start + limit < len(hits):
            result["token"] = base64.b64encode(json.dumps({**state, "offset": start + limit}).encode()).decode()
        return 200, {"status": "success", "result": result}, {}
