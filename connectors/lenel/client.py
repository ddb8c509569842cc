"""OpenAccess REST client: incremental pull of logged events plus the reader/panel inventory.

Authentication is `POST /authentication` -> `session_token`; every call then carries the
`Application-Id` and `Session-Token` headers and `?version=1.0`. Sessions time out when
idle, so a 401 on a data call re-authenticates once and repeats the call. Timeouts and
retries (429 honouring Retry-After, 5xx, connection errors) are the shared
`connectors.http.RetryingHttp`.

The cursor holds two things. `events` is the shared `connectors.http.Watermark` (newest
event time plus the ids seen at that instant): the server is asked for
`timestamp >= newest` (not `>`), so an event logged later within the same second is
still fetched and the ids keep the boundary events from coming back twice. `inventory`
is the device snapshot state: OnGuard keeps no install date, so each pull is a snapshot
dated the day it ran (UTC) and a device is active from the first pull that listed it
until the last one that did, once a later pull no longer lists it (parser.py)."""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import polars as pl
import requests

from connectors.base import ParseResult
from connectors.http import HttpError, RetryingHttp, Watermark
from connectors.lenel import parser
from connectors.vendor_parsing import RecordError, id_text, iso_utc

VERSION = "1.0"
INVENTORY_TYPES = ("Lnl_Reader", "Lnl_Panel")


class LenelError(RuntimeError):
    """OpenAccess answered with an error we cannot retry away."""


class LenelAuthError(LenelError):
    """Authentication refused: wrong user, password, directory or Application-Id."""


class LenelClient:
    def __init__(self, base_url: str, user_name: str, password: str, application_id: str, *,
                 sites: parser.SiteMap | Path, directory_id: str | None = None, source: str = "lenel",
                 page_size: int = 100, timeout: float = 10.0, max_attempts: int = 5,
                 backoff: float = 0.5, max_retry_after: float = 30.0,
                 session: requests.Session | None = None, sleep: Callable[[float], None] = time.sleep):
        self.base_url = base_url.rstrip("/")
        self.user_name, self.password, self.directory_id = user_name, password, directory_id
        self.application_id = application_id
        self.sites = sites if isinstance(sites, parser.SiteMap) else parser.load_sites(Path(sites), source)
        self.source = source
        self.page_size = page_size
        self.http = RetryingHttp(timeout=timeout, max_attempts=max_attempts, backoff=backoff,
                                 max_backoff=max_retry_after, session=session or requests.Session(), sleep=sleep)
        self.token: str | None = None

    # --- transport ------------------------------------------------------------------------------
    def authenticate(self) -> str:
        body: dict[str, Any] = {"user_name": self.user_name, "password": self.password}
        if self.directory_id:
            body["directory_id"] = self.directory_id
        resp = self._send("POST", "/authentication", {}, json=body, authenticated=False)
        if resp.status_code in (400, 401, 403):
            raise LenelAuthError(f"OpenAccess refused authentication for user {self.user_name!r} at "
                                 f"{self.base_url}: HTTP {resp.status_code} {_error_text(resp)}")
        _raise_for(resp, "POST /authentication")
        token = _json(resp, "POST /authentication").get("session_token")
        if not token:
            raise LenelAuthError("OpenAccess authentication answered without a session_token")
        self.token = token
        return token

    def get(self, path: str, params: dict[str, Any]) -> dict[str, Any]:
        """GET with the session; one re-authentication when the session has timed out."""
        if self.token is None:
            self.authenticate()
        resp = self._send("GET", path, params)
        if resp.status_code == 401:
            self.authenticate()
            resp = self._send("GET", path, params)
            if resp.status_code == 401:
                raise LenelAuthError(f"GET {path}: session refused right after re-authenticating: "
                                     f"{_error_text(resp)}")
        _raise_for(resp, f"GET {path}")
        return _json(resp, f"GET {path}")

    def _send(self, method: str, path: str, params: dict[str, Any], *, json: Any = None,
              authenticated: bool = True) -> requests.Response:
        """One logical call through the retrying helper; the final answer (4xx included) is
        returned, exhausted retries raise LenelError."""
        url = f"{self.base_url}{path}?{urlencode({**params, 'version': VERSION})}"
        headers = {"Application-Id": self.application_id, "Accept": "application/json"}
        if authenticated and self.token:
            headers["Session-Token"] = self.token
        try:
            return self.http.request(method, url, raise_for_status=False, json=json, headers=headers)
        except HttpError as exc:
            raise LenelError(f"OpenAccess {exc}") from exc

    def pages(self, path: str, params: dict[str, Any]) -> Iterator[tuple[str, dict[str, Any]]]:
        """Yield (page address, page) for page 1..total_pages."""
        number = 1
        while True:
            query = {**params, "page_number": number, "page_size": self.page_size}
            page = parser.lower_keys(self.get(path, query))
            yield f"{self.base_url}{path}?{urlencode(query)}", page
            total = int(page.get("total_pages") or 1)
            if number >= total or not page.get("item_list"):
                return
            number += 1

    # --- pulls ------------------------------------------------------------------------------------
    def pull(self, since_cursor: str | None, *, include_inventory: bool = True,
             today: date | None = None) -> tuple[list[ParseResult], str]:
        """Events after the cursor and, by default, an inventory snapshot (OnGuard has no
        change cursor for readers; the raw store keeps one row per unchanged device)."""
        try:
            state = json.loads(since_cursor) if since_cursor else {}
            if "events" not in state:  # a cursor of the events watermark alone
                state = {"events": state}
            mark = Watermark.decode(json.dumps(state["events"]) if state["events"] else None)
        except (ValueError, TypeError) as exc:
            raise LenelError(f"unreadable OpenAccess cursor {since_cursor!r}: {exc}") from None
        params: dict[str, Any] = {"order_by": "timestamp,serial_number"}
        if mark.high_water is not None:
            params["filter"] = f'timestamp >= "{plus00(mark.high_water)}"'
        items: list[tuple[str, int, Any]] = []
        for address, page in self.pages("/logged_events", params):
            for position, item in enumerate(page.get("item_list") or [], start=1):
                items.append((address, position, item))
        events = parser.parse_event_items(items, self.sites, self.source)
        fresh = [mark.is_new(at, rid) for at, rid in
                 zip(events.rows["occurred_at"].to_list(), events.rows["record_id"].to_list(), strict=True)]
        events.rows = events.rows.filter(pl.Series(fresh, dtype=pl.Boolean))
        events.quarantined = [q for q in events.quarantined if q.record_id is None or q.record_id not in mark.seen]
        cursor = {"events": json.loads(mark.advance(item_key(raw) for _, _, raw in items).encode()),
                  "inventory": state.get("inventory") or {}}
        results = [events]
        if include_inventory:
            devices, cursor["inventory"] = self.pull_inventory(cursor["inventory"], today)
            results.append(devices)
        return results, json.dumps(cursor, separators=(",", ":"), sort_keys=True)

    def pull_inventory(self, state: dict[str, Any] | None = None,
                       today: date | None = None) -> tuple[ParseResult, dict[str, Any]]:
        """Today's snapshot of readers and panels, dated `today` (UTC), folded into the
        sightings `state` of earlier pulls -> (devices, new state)."""
        today = today or datetime.now(UTC).date()
        state = state or {}
        known = {record_id: parser.Sighting(record_id, entry["type"], date.fromisoformat(entry["first"]),
                                            date.fromisoformat(entry["last"]), entry["file"], 1,
                                            parser.lower_keys(entry["item"]), json.dumps(entry["item"], sort_keys=True))
                 for record_id, entry in (state.get("devices") or {}).items()}
        newest = {k: date.fromisoformat(v) for k, v in (state.get("newest") or {}).items()}
        snapshots = []
        for type_name in INVENTORY_TYPES:
            for address, page in self.pages("/instances", {"type_name": type_name}):
                snapshots.append(parser.Snapshot(today, address, page.get("item_list") or [], type_name))
        current, current_newest, refused = parser.sightings(snapshots, self.source)
        for record_id, sighting in current.items():
            if record_id in known:
                sighting.first_seen = min(known[record_id].first_seen, sighting.first_seen)
            known[record_id] = sighting
        newest.update(current_newest)
        for type_name in INVENTORY_TYPES:  # a type whose pull listed nothing still had its snapshot
            newest[type_name.lower()] = max(newest.get(type_name.lower(), today), today)
        devices = parser.devices_from_sightings(list(known.values()), newest, self.sites, self.source, refused)
        new_state = {"newest": {k: v.isoformat() for k, v in sorted(newest.items())},
                     "devices": {s.record_id: {"type": s.type_name, "first": s.first_seen.isoformat(),
                                               "last": s.last_seen.isoformat(), "file": s.file_path,
                                               "item": json.loads(s.content)}
                                 for s in sorted(known.values(), key=lambda s: s.record_id)}}
        return devices, new_state


# --- cursor -------------------------------------------------------------------------------------

def item_key(raw: Any) -> tuple[datetime | None, str | None]:
    """(instant, record id) of a logged-event item, for the watermark. Everything pulled
    counts, quarantined records too: they are in raw.quarantine, not lost."""
    item = parser.lower_keys(raw)
    if not isinstance(item, dict):
        return None, None
    try:
        at = iso_utc(item.get("timestamp"), "timestamp")
    except RecordError:
        at = None
    serial = id_text(item.get("serial_number"))
    controller = id_text(item.get("controller_id"))
    return at, (f"{controller}-{serial}" if controller and serial else serial)


def plus00(at: datetime) -> str:
    """UTC as OpenAccess wants it in filters: `+00:00`, not `Z`."""
    at = at.astimezone(UTC)
    return at.isoformat(timespec="seconds" if at.microsecond == 0 else "microseconds")


def _raise_for(resp: requests.Response, what: str) -> None:
    if resp.status_code >= 400:
        raise LenelError(f"{what}: HTTP {resp.status_code} {_error_text(resp)}")


def _json(resp: requests.Response, what: str) -> dict[str, Any]:
    try:
        data = resp.json()
    except ValueError:
        raise LenelError(f"{what}: answer is not JSON: {resp.text[:200]!r}") from None
    if not isinstance(data, dict):
        raise LenelError(f"{what}: answer is not a JSON object")
    return data


def _error_text(resp: requests.Response) -> str:
    try:
        err = resp.json().get("error") or {}
        return f"{err.get('code', '')}: {err.get('message', '')}".strip(": ")
    except (ValueError, AttributeError):
        return resp.text[:200]
