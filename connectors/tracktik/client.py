"""TrackTik REST client: incremental pull of work sessions (what was worked), with the shifts
that give their schedule and the employee, position and client lookups that turn
TrackTik's integer ids into our ids; the service type of each position comes from the
deployment's `service_types.csv` (TrackTik positions carry no type).

Authentication is the OAuth2 password grant at `POST /rest/oauth2/access_token`; tokens
last `expires_in` seconds (3600) and come with a refresh token. The client refreshes a
token shortly before it expires and, should the server still answer 401 (token revoked,
clock skew), refreshes once and repeats the call; a refused refresh falls back to the
password grant. 429 and 5xx are retried with backoff by connectors.http.

Work-session queries filter `startedOn:between=a|b`, shift queries
`startDateTime:between=a|b`, each spanning at most 31 days, so a longer window is split.
Windows are half-open `[a, b)` on our side (the server's `between` is inclusive), so a
session starting exactly on a boundary is pulled once. Shifts are read for the window
widened by a day each side: a session's shift may start before it.

A session changes after it starts (its `endedOn` comes later), so a session with no
`endedOn` that started less than `max_hold` before `until` is not emitted yet: the
cursor is held back to its start and remembers the ids already emitted from there, so
the next pull fetches it once it is done and a pull with nothing new returns nothing."""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import requests

from connectors.base import ParseResult
from connectors.http import HttpError, RetryingHttp, body_excerpt
from connectors.tracktik import parser
from connectors.vendor_parsing import RecordError, optional_iso_utc

MAX_WINDOW = timedelta(days=31)
TOKEN_PATH = "/rest/oauth2/access_token"
LOOKUPS = ("employees", "positions", "clients")


class TrackTikError(RuntimeError):
    """TrackTik answered with an error we cannot retry away."""


class TrackTikAuthError(TrackTikError):
    """Credentials refused: wrong client id/secret, user or password."""


@dataclass(frozen=True)
class Cursor:
    """`start`: where the next pull's first window begins; `seen`: shift ids already
    emitted that start at or after it (only while a running shift holds the cursor back)."""

    start: datetime | None = None
    seen: frozenset[str] = field(default_factory=frozenset)

    @classmethod
    def decode(cls, text: str | None) -> Cursor:
        if not text:
            return cls()
        try:
            data = json.loads(text)
            start = datetime.fromisoformat(data["from"]) if data.get("from") else None
            return cls(start.astimezone(UTC) if start else None, frozenset(str(i) for i in data.get("ids") or ()))
        except (ValueError, KeyError, TypeError, AttributeError):
            raise ValueError(f"unreadable TrackTik cursor {text!r}: expected the JSON this client writes") from None

    def encode(self) -> str:
        return json.dumps({"from": self.start.isoformat() if self.start else None, "ids": sorted(self.seen)},
                          separators=(",", ":"))


def windows(start: datetime, end: datetime, span: timedelta = MAX_WINDOW) -> list[tuple[datetime, datetime]]:
    """[start, end) cut into consecutive windows of at most `span`."""
    out = []
    while start < end:
        stop = min(start + span, end)
        out.append((start, stop))
        start = stop
    return out


class TrackTikClient:
    def __init__(self, base_url: str, client_id: str, client_secret: str, username: str, password: str, *,
                 service_types: Path | None = None, source: str = "tracktik", limit: int = 100,
                 backfill: timedelta = timedelta(days=31),
                 max_hold: timedelta = timedelta(days=2), http: RetryingHttp | None = None,
                 timeout: float = 10.0, max_attempts: int = 5, backoff: float = 0.5,
                 sleep: Callable[[float], None] = time.sleep, clock: Callable[[], float] = time.time):
        self.base_url = base_url.rstrip("/")
        self.client_id, self.client_secret = client_id, client_secret
        self.username, self.password = username, password
        self.source, self.limit = source, limit
        self.service_types = Path(service_types) if service_types else None
        self.backfill, self.max_hold = backfill, max_hold
        self.http = http or RetryingHttp(timeout=timeout, max_attempts=max_attempts, backoff=backoff, sleep=sleep)
        self.clock = clock
        self.access_token: str | None = None
        self.refresh_token: str | None = None
        self.expires_at = 0.0

    # --- auth -----------------------------------------------------------------------------------
    def authenticate(self) -> None:
        self._grant({"grant_type": "password", "username": self.username, "password": self.password})

    def refresh(self) -> None:
        """Refresh grant; a refused refresh token (rotated, expired) falls back to the
        password grant rather than failing the pull."""
        if not self.refresh_token:
            self.authenticate()
            return
        try:
            self._grant({"grant_type": "refresh_token", "refresh_token": self.refresh_token})
        except TrackTikAuthError:
            self.authenticate()

    def _grant(self, form: dict[str, str]) -> None:
        body = {**form, "client_id": self.client_id, "client_secret": self.client_secret}
        resp = self._send("POST", TOKEN_PATH, data=body)
        if resp.status_code in (400, 401, 403):
            raise TrackTikAuthError(f"TrackTik refused the {form['grant_type']} grant for client "
                                    f"{self.client_id!r}, user {self.username!r} at {self.base_url}: "
                                    f"HTTP {resp.status_code} {_error_text(resp)}")
        _raise_for(resp, f"POST {TOKEN_PATH}")
        data = _json(resp, f"POST {TOKEN_PATH}")
        token = data.get("access_token")
        if not token:
            raise TrackTikAuthError(f"POST {TOKEN_PATH} answered without an access_token")
        self.access_token = token
        self.refresh_token = data.get("refresh_token") or self.refresh_token
        lifetime = float(data.get("expires_in") or 3600)
        self.expires_at = self.clock() + lifetime - min(60.0, lifetime / 10)  # refresh a little early

    def _ensure_token(self) -> None:
        if self.access_token is None:
            self.authenticate()
        elif self.clock() >= self.expires_at:
            self.refresh()

    # --- transport ------------------------------------------------------------------------------
    def get(self, resource: str, params: dict[str, Any]) -> dict[str, Any]:
        """GET /rest/v1/<resource>; one token refresh when the server answers 401."""
        self._ensure_token()
        path = f"/rest/v1/{resource}"
        resp = self._send("GET", path, params=params)
        if resp.status_code == 401:
            self.refresh()
            resp = self._send("GET", path, params=params)
            if resp.status_code == 401:
                raise TrackTikAuthError(f"GET {path}: token refused right after refreshing it: "
                                        f"{_error_text(resp)}")
        _raise_for(resp, f"GET {path}?{urlencode(params)}")
        return _json(resp, f"GET {path}")

    def _send(self, method: str, path: str, *, params: dict[str, Any] | None = None,
              data: dict[str, str] | None = None) -> requests.Response:
        headers = {"Accept": "application/json"}
        if method == "GET" and self.access_token:
            headers["Authorization"] = f"Bearer {self.access_token}"
        try:
            return self.http.request(method, f"{self.base_url}{path}", params=params, data=data, headers=headers,
                                     raise_for_status=False)
        except HttpError as exc:
            raise TrackTikError(str(exc)) from exc

    def pages(self, resource: str, params: dict[str, Any] | None = None) -> Iterator[tuple[str, list[Any]]]:
        """(page address, items) by limit/offset until `meta.count` is reached."""
        offset = 0
        while True:
            query = {**(params or {}), "limit": self.limit, "offset": offset}
            page = self.get(resource, query)
            try:
                items = parser.page_items(page)
            except ValueError as exc:
                raise TrackTikError(f"GET /rest/v1/{resource}: {exc}") from None
            yield f"{self.base_url}/rest/v1/{resource}?{urlencode(query)}", items
            offset += len(items)
            total = (page.get("meta") or {}).get("count")
            if not items or (isinstance(total, int) and offset >= total):
                return

    def positioned(self, resource: str, params: dict[str, Any] | None = None) -> list[tuple[str, int, Any]]:
        return [(address, n, item) for address, items in self.pages(resource, params)
                for n, item in enumerate(items, start=1)]

    # --- pulls ------------------------------------------------------------------------------------
    def lookups(self, start: datetime, end: datetime) -> parser.Lookups:
        """Employees, positions, clients, the shifts around [start, end) and the
        deployment's service types."""
        found = parser.Lookups()
        for resource in LOOKUPS:
            found.add(resource, self.positioned(resource), self.source)
        day = timedelta(days=1)
        found.add("shifts", self.fetch("shifts", "startDateTime", start - day, end + day), self.source)
        if self.service_types is not None and self.service_types.is_file():
            refused, _ = parser.load_service_types(str(self.service_types),
                                                   self.service_types.read_text(encoding="utf-8-sig"), found,
                                                   self.source)
            found.quarantined.extend(refused)
        return found

    def fetch(self, resource: str, key: str, start: datetime, end: datetime) -> list[tuple[str, int, Any]]:
        """Every item of `resource` whose `key` lies in [start, end), one query per window
        of at most 31 days."""
        out: list[tuple[str, int, Any]] = []
        ids: set[Any] = set()
        for a, b in windows(start, end):
            between = f"{_iso(a)}|{_iso(b)}"
            for address, position, item in self.positioned(resource, {f"{key}:between": between}):
                at = _time_of(item, key)
                if at is not None and not (a <= at < b):
                    continue  # the server's between is inclusive: b belongs to the next window
                ident = item.get("id") if isinstance(item, dict) else None
                if ident is not None and ident in ids:
                    continue
                ids.add(ident)
                out.append((address, position, item))
        return out

    def pull(self, since_cursor: str | None, until: datetime | None = None) -> tuple[list[ParseResult], str]:
        """Work sessions started since the cursor (first pull: `backfill` before `until`,
        default now), mapped to raw.timesheets, and the cursor to store. Patrol scans have
        no API shape we know of (research 6a): they arrive as exports only."""
        until = (until or datetime.now(UTC)).astimezone(UTC)
        cursor = Cursor.decode(since_cursor)
        start = cursor.start or (until - self.backfill)
        if start >= until:
            return [parser.finish(self.source, "timesheets", [], [])], cursor.encode()
        items = self.fetch("work-sessions", "startedOn", start, until)
        lookups = self.lookups(start, until)
        emit: list[tuple[str, int, Any]] = []
        held: list[datetime] = []
        emitted: list[tuple[datetime | None, str]] = []
        for address, position, item in items:
            session_id = str(item.get("id")) if isinstance(item, dict) else ""
            at = _time_of(item, "startedOn")
            if session_id in cursor.seen:
                emitted.append((at, session_id))  # emitted by an earlier pull
                continue
            if at is not None and self._running(item, at, until):
                held.append(at)
                continue
            emit.append((address, position, item))
            emitted.append((at, session_id))
        result = parser.parse_work_sessions(emit, lookups, self.source)
        result.quarantined[:0] = lookups.quarantined
        if held:
            resume = min(held)
            seen = {sid for at, sid in emitted if at is not None and at >= resume}
            nxt = Cursor(resume, frozenset(seen))
        else:
            nxt = Cursor(until, frozenset())
        return [result], nxt.encode()

    def _running(self, item: dict[str, Any], started: datetime, until: datetime) -> bool:
        """Still able to change: no `endedOn` yet, and not started so long ago that
        holding it would pin the cursor."""
        return parser._text(item.get("endedOn")) is None and started >= until - self.max_hold


def _time_of(item: Any, key: str) -> datetime | None:
    if not isinstance(item, dict):
        return None
    try:
        return optional_iso_utc(item.get(key), key)
    except RecordError:
        return None


def _iso(at: datetime) -> str:
    return at.astimezone(UTC).isoformat(timespec="seconds")


def _raise_for(resp: requests.Response, what: str) -> None:
    if resp.status_code >= 400:
        raise TrackTikError(f"{what}: HTTP {resp.status_code} {_error_text(resp)}")


def _json(resp: requests.Response, what: str) -> dict[str, Any]:
    try:
        data = resp.json()
    except ValueError:
        raise TrackTikError(f"{what}: answer is not JSON: {body_excerpt(resp, 200)!r}") from None
    if not isinstance(data, dict):
        raise TrackTikError(f"{what}: answer is not a JSON object")
    return data


def _error_text(resp: requests.Response) -> str:
    try:
        data = resp.json()
        return str(data.get("error_description") or data.get("message") or data.get("error") or data)
    except (ValueError, AttributeError):
        return body_excerpt(resp, 200)
