"""A local stand-in for the Avigilon ACC Web Endpoint API, for tests and the demo.

`POST /login` checks the partner authorization token (`nonce:unixSecs:hex(sha256(unixSecs
+ userKey))`, within five minutes of the server clock) and the user, and returns
`result.session`; later calls must carry it in `x-avg-session` (or `?session=`).
`GET /events/search` answers TIME_RANGE queries per server in pages of `limit`; the base64
continuation `token` comes on the first page only and `queryType=CONTINUE&token=` walks on from
where the last page of that token stopped. `GET /cameras` and `GET /alarms` list the rest;
`GET /alarm-history?id=` answers an alarm's actions between `to` (earliest) and `from`
(latest, default now), newest first, or oldest first when `from` is earlier than `to`.
Faults (429/503) come from connectors.fake_http.LocalServer."""

from __future__ import annotations

import base64
import hashlib
import json
import secrets
import time
from datetime import UTC, datetime, timedelta
from typing import Any

from connectors.fake_http import ANSWER, LocalServer

BASE = "/mt/api/rest/v1"


def _at(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def _error(status: int, message: str) -> ANSWER:
    return status, {"status": "error", "message": message}, {}


class FakeWebEndpoint(LocalServer):
    def __init__(self, cameras: list[dict[str, Any]] | None = None, alarms: list[dict[str, Any]] | None = None,
                 events: list[dict[str, Any]] | None = None, histories: dict[str, list[dict[str, Any]]] | None = None,
                 *, username: str = "vigil", password: str = "secret", user_nonce: str = "nonce-123",
                 user_key: str = "key-456", max_limit: int = 1000):
        super().__init__()
        self.cameras, self.alarms, self.events = list(cameras or []), list(alarms or []), list(events or [])
        self.histories = {k: list(v) for k, v in (histories or {}).items()}
        self.username, self.password = username, password
        self.user_nonce, self.user_key = user_nonce, user_key
        self.max_limit = max_limit
        self.sessions: set[str] = set()
        self.continuations: dict[str, dict[str, Any]] = {}
        self.logins = 0

    @property
    def base_url(self) -> str:
        return f"{self.url}{BASE}"

    def add_events(self, events: list[dict[str, Any]]) -> None:
        with self.lock:
            self.events.extend(events)

    def add_history(self, alarm_id: str, entries: list[dict[str, Any]]) -> None:
        with self.lock:
            self.histories.setdefault(alarm_id, []).extend(entries)

    def remove_camera(self, camera_id: str) -> None:
        with self.lock:
            self.cameras = [c for c in self.cameras if c.get("id") != camera_id]

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
            return _error(401, "Invalid or expired session")
        q = {k: v[0] for k, v in query.items()}
        if method == "GET" and route == "/cameras":
            return 200, {"status": "success", "result": {"cameras": self.cameras}}, {}
        if method == "GET" and route == "/alarms":
            return 200, {"status": "success", "result": {"alarms": self.alarms}}, {}
        if method == "GET" and route == "/alarm-history":
            return self._history(q)
        if method == "GET" and route == "/events/search":
            return self._search(q)
        return _error(404, f"no route {method} {path}")

    def _login(self, body: bytes) -> ANSWER:
        self.logins += 1
        try:
            data = json.loads(body or b"{}")
            nonce, secs, digest = str(data.get("authorizationToken", "")).split(":")[:3]
        except ValueError:
            return _error(400, "malformed login")
        expected = hashlib.sha256(f"{secs}{self.user_key}".encode()).hexdigest()
        if nonce != self.user_nonce or digest != expected or abs(time.time() - int(secs)) > 300:
            return _error(401, "Invalid authorization token")
        if (data.get("username"), data.get("password")) != (self.username, self.password):
            return _error(401, "Invalid username or password")
        session = secrets.token_hex(16)
        with self.lock:
            self.sessions.add(session)
        return 200, {"status": "success", "result": {"session": session}}, {}

    def _history(self, q: dict[str, str]) -> ANSWER:
        if not q.get("id"):
            return _error(400, "id is required")
        latest = _at(q["from"]) if q.get("from") else datetime.now(UTC)
        earliest = _at(q["to"]) if q.get("to") else latest - timedelta(weeks=1)
        oldest_first = earliest > latest
        lo, hi = sorted((latest, earliest))
        entries = [e for e in self.histories.get(q["id"], []) if lo <= _at(e["timestamp"]) <= hi
                   and (not q.get("action") or e.get("action") == q["action"])]
        entries.sort(key=lambda e: _at(e["timestamp"]), reverse=not oldest_first)
        limit = min(int(q.get("limit") or 1000), self.max_limit)
        return 200, {"status": "success", "result": {"history": entries[:limit]}}, {}

    def _search(self, q: dict[str, str]) -> ANSWER:
        if q.get("queryType") == "CONTINUE":
            state = self.continuations.get(q.get("token", ""))
            if state is None:
                return _error(400, "bad continuation token")
            state = dict(state, limit=min(int(q.get("limit") or state["limit"]), self.max_limit))
            token = None
        elif q.get("queryType") == "TIME_RANGE":
            if not q.get("serverId") or not q.get("from") or not q.get("to"):
                return _error(400, "serverId, from and to are required")
            state = {"serverId": q["serverId"], "from": q["from"], "to": q["to"], "offset": 0,
                     "limit": min(int(q.get("limit") or 1000), self.max_limit)}
            token = base64.b64encode(secrets.token_bytes(12)).decode()
        else:
            return _error(400, f"unsupported queryType {q.get('queryType')!r}")
        lo, hi = _at(state["from"]), _at(state["to"])
        hits = [e for e in self.events if e.get("originatingServerId") == state["serverId"]
                and isinstance(e.get("timestamp"), str) and lo <= _at(e["timestamp"]) <= hi]
        start, limit = state["offset"], state["limit"]
        page = hits[start:start + limit]
        result: dict[str, Any] = {"events": page}
        with self.lock:
            if token is not None and start + limit < len(hits):
                result["token"] = token  # on the first page only; CONTINUE pages carry none
                self.continuations[token] = dict(state, offset=start + limit)
            elif token is None:
                self.continuations[q["token"]] = dict(state, offset=start + limit)
        return 200, {"status": "success", "result": result}, {}
