"""Avigilon ACC Web Endpoint client: cameras, alarms with their history, and device events,
pulled incrementally.

`POST /login` takes the user and a partner authorization token built from the nonce and
key Avigilon issues to integrators (`nonce:unixSecs:hex(sha256(unixSecs + userKey))`,
`:integrationId` appended when given); the session it returns travels in `x-avg-session`
and is renewed once when a call answers 401.

- `/events/search` is asked per server of sites.json with `queryType=TIME_RANGE`, then
  followed with `queryType=CONTINUE&token=` while a page comes back full. The continuation
  token may come on the first page only: the last token seen is reused.
- Alarms are not in the event stream: `GET /alarms` lists them and `GET /alarm-history?id=`
  gives each one's actions. Its `from` is the *latest* instant and the answer newest first
  unless `from` is earlier than `to`: the client asks `from` = window start, `to` = now, for
  the oldest first; a full answer is split in two.

Claims and acknowledgements only make sense with their trigger, so the whole window is
parsed and only the *output* is filtered by the cursor (connectors.http.Watermark): the
window restarts at the oldest still-open trigger, and rows already returned are dropped. The
cursor also keeps the inventory (connectors.vendor_parsing.Inventory): Avigilon sends no date
a camera was added, so a camera is installed the day a pull first lists it."""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import polars as pl

from connectors.avigilon import parser
from connectors.base import ParseResult
from connectors.http import AuthError, HttpError, RetryingHttp, Watermark, body_excerpt, iso_ms, json_body, raise_for
from connectors.vendor_parsing import (
    Inventory,
    Mapping,
    RecordError,
    device_rows_from_memory,
    finish,
    id_text,
    load_mapping,
    merge,
)


class AvigilonClient:
    def __init__(self, base_url: str, username: str, password: str, *, user_nonce: str, user_key: str,
                 mapping: Mapping | Path, integration_id: str | None = None, client_name: str = "vigil",
                 source: str = parser.SOURCE, limit: int = 1000, first_pull_from: datetime | None = None,
                 now: Callable[[], datetime] | None = None, http: RetryingHttp | None = None,
                 unix_time: Callable[[], float] = time.time):
        self.base_url = base_url.rstrip("/")
        self.username, self.password = username, password
        self.user_nonce, self.user_key, self.integration_id = user_nonce, user_key, integration_id
        self.client_name = client_name
        self.mapping = (mapping if isinstance(mapping, Mapping)
                        else load_mapping(Path(mapping), source, fold_case=False))
        self.source, self.limit = source, limit
        self.first_pull_from = first_pull_from
        self.now = now or (lambda: datetime.now(UTC))
        self.http = http or RetryingHttp()
        self.unix_time = unix_time
        self.session: str | None = None

    # --- transport ----------------------------------------------------------------------------
    def authorization_token(self) -> str:
        secs = str(int(self.unix_time()))
        token = f"{self.user_nonce}:{secs}:{hashlib.sha256(f'{secs}{self.user_key}'.encode()).hexdigest()}"
        return f"{token}:{self.integration_id}" if self.integration_id else token

    def login(self) -> str:
        url = f"{self.base_url}/login"
        body = {"username": self.username, "password": self.password, "clientName": self.client_name,
                "authorizationToken": self.authorization_token()}
        resp = self.http.request("POST", url, json=body, raise_for_status=False)
        if resp.status_code in (400, 401, 403):
            raise AuthError("POST", url, resp.status_code,
                            f"ACC refused login for {self.username!r}: {body_excerpt(resp)}")
        raise_for(resp, "POST")
        session = (json_body(resp, "POST").get("result") or {}).get("session")
        if not session:
            raise AuthError("POST", url, resp.status_code, "login answer has no result.session")
        self.session = session
        return session

    def get(self, route: str, params: dict[str, Any]) -> tuple[str, dict[str, Any]]:
        if self.session is None:
            self.login()
        url = f"{self.base_url}{route}" + (f"?{urlencode(params)}" if params else "")
        for attempt in (1, 2):
            resp = self.http.request("GET", url, headers={"x-avg-session": self.session or ""},
                                     raise_for_status=attempt == 2)
            if resp.status_code != 401:
                break
            self.login()  # sessions expire; one fresh session, then a 401 is final
        raise_for(resp, "GET")
        data = json_body(resp)
        if not isinstance(data, dict) or data.get("status") != "success":
            status = data.get("status") if isinstance(data, dict) else None
            raise HttpError("GET", url, resp.status_code, f"status {status!r}: {body_excerpt(resp)}")
        return url, data.get("result") or {}

    def listed(self, route: str, key: str) -> list[tuple[str, int, Any]]:
        url, result = self.get(route, {})
        return [(url, n, item) for n, item in enumerate(result.get(key) or [], start=1)]

    def events(self, server: str, start: datetime, end: datetime) -> list[tuple[str, int, Any]]:
        out: list[tuple[str, int, Any]] = []
        params: dict[str, Any] = {"queryType": "TIME_RANGE", "serverId": server, "from": iso_ms(start),
                                  "to": iso_ms(end), "limit": self.limit}
        token = None
        while True:
            url, result = self.get("/events/search", params)
            items = result.get("events") or []
            out.extend((url, n, item) for n, item in enumerate(items, start=1))
            token = result.get("token") or token
            if not token or len(items) < self.limit:
                return out
            params = {"queryType": "CONTINUE", "token": token, "limit": self.limit}

    def history(self, alarm_id: str, start: datetime, end: datetime) -> list[tuple[str, int, Any]]:
        """The alarm's actions in [start, end], oldest first; a full answer is split in two."""
        params = {"id": alarm_id, "from": iso_ms(start), "to": iso_ms(end), "limit": self.limit}
        url, result = self.get("/alarm-history", params)
        entries = next((v for v in result.values() if isinstance(v, list)), [])
        if len(entries) < self.limit:
            return [(url, n, entry) for n, entry in enumerate(entries, start=1)]
        if end - start <= timedelta(seconds=1):
            raise HttpError("GET", url, 200, f"more than {self.limit} alarm actions in one second: raise limit")
        middle = start + (end - start) / 2
        return self.history(alarm_id, start, middle) + self.history(alarm_id, middle + timedelta(milliseconds=1), end)

    # --- pull -------------------------------------------------------------------------------
    def pull(self, since_cursor: str | None) -> tuple[list[ParseResult], str]:
        mark, memory = Watermark.decode(since_cursor), Inventory.decode(since_cursor)
        now = self.now().astimezone(UTC)
        start = mark.resume_from or self.first_pull_from or now - timedelta(days=90)
        items = [i for server in sorted(self.mapping.sites) for i in self.events(server, start, now)]
        alarms = self.listed("/alarms", "alarms")
        histories = {aid: self.history(aid, start, now) for aid in
                     (id_text(a.get("id")) for _, _, a in alarms if isinstance(a, dict)) if aid}

        today = now.date()
        devices, cameras = parser.parse_cameras(
            self.listed("/cameras", "cameras"), self.mapping, parser.camera_servers(items), self.source,
            first_seen=lambda camera: memory.first_seen(camera, today),
            remembered=lambda camera: (memory.devices.get(camera) or {}).get("row", {}).get("site_id"))
        gone = memory.observe(devices.rows.to_dicts(), today)
        if gone:
            devices = merge(self.source, "devices", [devices, finish(
                self.source, "devices", device_rows_from_memory(gone, self.source, f"{self.base_url}/cameras"), [])])
        incidents, alarm_events = parser.parse_alarms(alarms, histories, cameras, self.mapping, self.source)
        events = merge(self.source, "device_events", [parser.parse_events(items, self.mapping, self.source),
                                                      alarm_events])

        returned = ([(r["occurred_at"], r["vendor_ref"]) for r in events.rows.iter_rows(named=True)]
                    + [(r["response_ended_at"], r["record_id"]) for r in incidents.rows.iter_rows(named=True)])
        events.rows = _only_new(events.rows, mark, "occurred_at", lambda r: r["vendor_ref"])
        incidents.rows = _only_new(incidents.rows, mark, "response_ended_at", lambda r: r["record_id"])
        for result_ in (incidents, events):
            result_.quarantined = [q for q in result_.quarantined
                                   if mark.is_new(*parser.event_time(_load(q.content)))]
        open_since = [act.triggered for rows in histories.values() for act in _activations(rows)
                      if not act.closed]
        mark = mark.advance(returned + [parser.event_time(i) for _, _, i in items], open_since)
        if mark.resume_from is None:
            mark = Watermark(start, None, frozenset())
        return [incidents, events, devices], memory.encode(mark.encode())


def _activations(rows: list[tuple[str, int, Any]]) -> list[parser.Activation]:
    try:
        return parser.activations(rows)
    except RecordError:
        return []


def _only_new(rows: pl.DataFrame, mark: Watermark, time_column: str, key: Callable[[dict], Any]) -> pl.DataFrame:
    if rows.height == 0:
        return rows
    keep = [mark.is_new(r[time_column], key(r)) for r in rows.iter_rows(named=True)]
    return rows.filter(pl.Series(keep))


def _load(content: str) -> Any:
    try:
        return json.loads(content)
    except ValueError:
        return None
