"""Milestone XProtect API Gateway client: cameras with their hardware, alarms with their
history, and events, pulled incrementally.

Authentication is the identity provider's password grant (`POST /API/IDP/connect/token`,
`client_id=GrantValidatorClient`); the bearer token is renewed before `expires_in` runs
out, and once more if a call is refused with 401 (the gateway recycles every 27 h and
forgets tokens). Lists page with `page` (from 0) and `size`; a short page is the last.
A camera names its hardware and the hardware its recorder (`relations.parent`), so both
lists are read. Alarm state changes are read per alarm from `/alarms/{id}/history`, for
each alarm that changed since the last pull. The documented list calls take no time
filter, so every pull reads the lists whole and the cursor (connectors.http.Watermark over
each record's latest change, plus the inventory seen so far) decides what is new."""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from connectors.base import ParseResult
from connectors.http import AuthError, HttpError, RetryingHttp, Watermark, body_excerpt, json_body, raise_for
from connectors.milestone import parser
from connectors.vendor_parsing import (
    Inventory,
    Mapping,
    device_rows_from_memory,
    finish,
    guid_text,
    id_text,
    load_mapping,
    merge,
)

REST = "/api/rest/v1"
RENEW_BEFORE = 30.0  # seconds of token life left when it is renewed


class MilestoneClient:
    def __init__(self, management_url: str, username: str, password: str, *, mapping: Mapping | Path,
                 source: str = parser.SOURCE, page_size: int = 100, http: RetryingHttp | None = None,
                 clock: Callable[[], float] = time.monotonic, now: Callable[[], datetime] | None = None):
        self.base_url = management_url.rstrip("/")
        self.username, self.password = username, password
        self.mapping = mapping if isinstance(mapping, Mapping) else load_mapping(Path(mapping), source)
        self.source, self.page_size = source, page_size
        self.http = http or RetryingHttp()
        self.clock = clock
        self.now = now or (lambda: datetime.now(UTC))
        self.token: str | None = None
        self.expires_at = 0.0

    # --- transport ----------------------------------------------------------------------------
    def authenticate(self) -> str:
        url = f"{self.base_url}/API/IDP/connect/token"
        form = {"grant_type": "password", "username": self.username, "password": self.password,
                "client_id": "GrantValidatorClient"}
        resp = self.http.request("POST", url, data=form, raise_for_status=False)
        if resp.status_code in (400, 401, 403):
            raise AuthError("POST", url, resp.status_code,
                            f"identity provider refused user {self.username!r}: {body_excerpt(resp)}")
        if resp.status_code >= 300:
            raise HttpError("POST", url, resp.status_code, body_excerpt(resp))
        data = json_body(resp, "POST")
        if not isinstance(data, dict) or not data.get("access_token"):
            raise AuthError("POST", url, resp.status_code, "token answer has no access_token")
        self.token = data["access_token"]
        self.expires_at = self.clock() + float(data.get("expires_in") or 3600)
        return self.token

    def get(self, resource: str, params: dict[str, Any]) -> tuple[str, Any]:
        if self.token is None or self.clock() > self.expires_at - RENEW_BEFORE:
            self.authenticate()
        url = f"{self.base_url}{REST}/{resource}" + (f"?{urlencode(params)}" if params else "")
        for attempt in (1, 2):
            resp = self.http.request("GET", url, headers={"Authorization": f"Bearer {self.token}"},
                                     raise_for_status=attempt == 2)
            if resp.status_code != 401:
                break
            self.authenticate()  # token revoked early: one fresh token, then a 401 is final
        raise_for(resp, "GET")
        return url, json_body(resp)

    def items(self, resource: str, params: dict[str, Any]) -> tuple[str, list[Any]]:
        url, data = self.get(resource, params)
        items = data.get("array") if isinstance(data, dict) else None
        if not isinstance(items, list):
            raise HttpError("GET", url, 200, "answer has no array")
        return url, items

    def pages(self, resource: str, **params: Any) -> list[tuple[str, int, Any]]:
        out: list[tuple[str, int, Any]] = []
        page = 0
        while True:
            url, items = self.items(resource, {**params, "page": page, "size": self.page_size})
            out.extend((url, n, item) for n, item in enumerate(items, start=1))
            if len(items) < self.page_size:
                return out
            page += 1

    def history(self, alarm_id: str) -> list[tuple[str, int, Any]]:
        url, items = self.items(f"alarms/{alarm_id}/history", {})
        return [(url, n, item) for n, item in enumerate(items, start=1)]

    # --- pull -------------------------------------------------------------------------------
    def pull(self, since_cursor: str | None) -> tuple[list[ParseResult], str]:
        mark, memory = Watermark.decode(since_cursor), Inventory.decode(since_cursor)
        today = self.now().astimezone(UTC).date()
        devices, configuration = parser.parse_cameras(
            self.pages("cameras"), self.pages("hardware"), self.mapping, self.source,
            first_seen=lambda camera: memory.first_seen(camera, today))
        gone = memory.observe(devices.rows.to_dicts(), today)
        if gone:
            url = f"{self.base_url}{REST}/cameras"
            devices = merge(self.source, "devices", [devices, finish(
                self.source, "devices", device_rows_from_memory(gone, self.source, url), [])])

        def alarm_key(item: Any) -> tuple:
            return (parser.record_time(item, ("timestamp", "modified")),
                    id_text(item.get("id")) if isinstance(item, dict) else None)

        def event_key(item: Any) -> tuple:
            return (parser.record_time(item, ("time",)), id_text(item.get("id")) if isinstance(item, dict) else None)

        alarms = [i for i in self.pages("alarms") if mark.is_new(*alarm_key(i[2]))]
        histories = {guid_text(a.get("id")): self.history(str(a["id"])) for _, _, a in alarms
                     if isinstance(a, dict) and guid_text(a.get("id"))}
        events = [i for i in self.pages("events", include="data") if mark.is_new(*event_key(i[2]))]
        incidents, alarm_events = parser.parse_alarms(alarms, histories, configuration, self.mapping, self.source)
        device_events = merge(self.source, "device_events",
                              [parser.parse_events(events, configuration, self.mapping, self.source), alarm_events])
        mark = mark.advance([alarm_key(i[2]) for i in alarms] + [event_key(i[2]) for i in events])
        return [incidents, device_events, devices], memory.encode(mark.encode())
