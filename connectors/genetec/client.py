"""Genetec Web SDK client: incremental pull of alarm activity and door, camera and unit events
plus the entity inventory.

Every call uses HTTP Basic `<user>;<applicationId>` and `Accept: text/json` (without it the
SDK answers legacy XML). The inventory is two steps, as third-party clients do it (Genetec/DAP
wiki "web-sdk-referencing-entities"): `report/EntityConfiguration` lists GUIDs only, paged with
`Page`/`PageSize` (a page holding one item more than PageSize means another page follows; the
extra item is dropped), then `/entity?q=entity=<guid>,Guid,Name,...` reads each entity's
details, several entities per call. Activity reports do not page; a `TooManyResults` answer is
cut short, so the time window is halved until every half fits. Windows are sent as UTC
without a zone suffix, as the SDK expects. The cursor is a connectors.http.Watermark over
record times plus the inventory seen so far (connectors.vendor_parsing.Inventory), so a
device that leaves the configuration is delivered once more with its last active day."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import requests

from connectors.base import ParseResult
from connectors.genetec import parser
from connectors.http import HttpError, RetryingHttp, Watermark, json_body
from connectors.vendor_parsing import (
    Inventory,
    Mapping,
    RecordError,
    device_rows_from_memory,
    finish,
    guid_text,
    id_text,
    load_mapping,
    merge,
)

ENTITY_TYPES = ("Area", "User", "Alarm", "Camera", "Door", "Unit")
DETAIL_FIELDS = ("Guid", "Name", "EntityType", "LogicalId", "CreatedOn")
EVENT_REPORTS = ("DoorActivity", "CameraEvent", "AccessControlUnitActivity")


class GenetecError(HttpError):
    """The SDK answered, but with Status Fail or a body we cannot read."""


class GenetecClient:
    def __init__(self, base_url: str, user: str, app_id: str, password: str, *,
                 mapping: Mapping | Path, source: str = parser.SOURCE, page_size: int = 500,
                 entities_per_call: int = 20, first_pull_from: datetime | None = None,
                 now: Callable[[], datetime] | None = None, http: RetryingHttp | None = None):
        self.base_url = base_url.rstrip("/")
        self.mapping = mapping if isinstance(mapping, Mapping) else load_mapping(Path(mapping), source)
        self.source, self.page_size, self.entities_per_call = source, page_size, entities_per_call
        self.now = now or (lambda: datetime.now(UTC))
        self.first_pull_from = first_pull_from
        self.http = http or RetryingHttp()
        self.auth = requests.auth.HTTPBasicAuth(f"{user};{app_id}", password)

    # --- transport ----------------------------------------------------------------------------
    def call(self, route: str, q: str) -> tuple[str, str, Any]:
        """(address, Status, Result) of one call; Status Fail raises."""
        url = f"{self.base_url}/{route}?{urlencode({'q': q})}"
        resp = self.http.request("GET", url, auth=self.auth, headers={"Accept": "text/json"})
        data = json_body(resp)
        rsp = data.get("Rsp") if isinstance(data, dict) else None
        if not isinstance(rsp, dict):
            raise GenetecError("GET", url, resp.status_code, "answer has no Rsp wrapper")
        status, result = str(rsp.get("Status")), rsp.get("Result")
        if status == "Fail":
            err = result if isinstance(result, dict) else {}
            raise GenetecError("GET", url, resp.status_code,
                               f"Status Fail: {err.get('SdkErrorCode')} {err.get('Message', '')}".strip())
        return url, status, result

    def report(self, report_type: str, q: str) -> tuple[str, str, list[Any]]:
        url, status, result = self.call(f"report/{report_type}", q)
        return url, status, result if isinstance(result, list) else []

    def entities(self) -> list[tuple[str, int, Any]]:
        """Every configured entity's GUID, page by page (the one-extra-item rule)."""
        out: list[tuple[str, int, Any]] = []
        page = 1
        while True:
            q = f"EntityTypes@{'@'.join(ENTITY_TYPES)},Page={page},PageSize={self.page_size}"
            url, _, rows = self.report("EntityConfiguration", q)
            more = len(rows) > self.page_size
            out.extend((url, n, item) for n, item in enumerate(rows[: self.page_size], start=1))
            if not more:
                return out
            page += 1

    def details(self, guids: list[str]) -> list[tuple[str, int, Any]]:
        """/entity answers for `guids`, `entities_per_call` at a time (one entity answers an
        object, several a list)."""
        out: list[tuple[str, int, Any]] = []
        for start in range(0, len(guids), self.entities_per_call):
            chunk = guids[start:start + self.entities_per_call]
            url, _, result = self.call("entity", ",".join(f"entity={g},{','.join(DETAIL_FIELDS)}" for g in chunk))
            rows = [result] if isinstance(result, dict) else result if isinstance(result, list) else []
            out.extend((url, n, item) for n, item in enumerate(rows, start=1))
        return out

    def activity(self, report_type: str, start: datetime, end: datetime) -> list[tuple[str, int, Any]]:
        """Rows of an activity report for [start, end); halves the window on TooManyResults."""
        q = f"TimeRange.SetTimeRange({_sdk_time(start)},{_sdk_time(end)}),SortOrder=Ascending"
        url, status, rows = self.report(report_type, q)
        if status != "TooManyResults":
            return [(url, n, item) for n, item in enumerate(rows, start=1)]
        if end - start <= timedelta(seconds=1):
            raise GenetecError("GET", url, 200, "TooManyResults for a one-second window: raise the server's "
                                                "result limit")
        middle = start + (end - start) / 2
        middle = middle.replace(microsecond=0)
        return self.activity(report_type, start, middle) + self.activity(report_type, middle, end)

    # --- pull -------------------------------------------------------------------------------
    def inventory(self, memory: Inventory, today: date) -> tuple[ParseResult, parser.Entities]:
        """The whole configuration (the SDK has no change feed for it; unchanged devices are
        stored once by content hash), plus a row for each device that left it since the last pull."""
        listed = self.entities()
        guids = list(dict.fromkeys(g for g in (guid_text(i.get("Guid")) for _, _, i in listed
                                               if isinstance(i, dict)) if g))
        devices, entities = parser.parse_entities(listed + self.details(guids), self.mapping, self.source,
                                                  first_seen=lambda guid: memory.first_seen(guid, today))
        gone = memory.observe(devices.rows.to_dicts(), today)
        if gone:
            url = f"{self.base_url}/report/EntityConfiguration"
            devices = merge(self.source, "devices", [devices, finish(self.source, "devices",
                                                                     device_rows_from_memory(gone, self.source, url),
                                                                     [])])
        return devices, entities

    def pull(self, since_cursor: str | None) -> tuple[list[ParseResult], str]:
        """Incidents and events new since the cursor, plus the inventory."""
        mark, memory = Watermark.decode(since_cursor), Inventory.decode(since_cursor)
        now = self.now().astimezone(UTC)
        start = mark.resume_from or self.first_pull_from or now - timedelta(days=90)
        start = start.replace(microsecond=0)
        end = (now + timedelta(seconds=1)).replace(microsecond=0)
        devices, entities = self.inventory(memory, now.date())

        alarms = [i for i in self.activity("AlarmActivity", start, end) if mark.is_new(*_alarm_time(i[2]))]
        events = [i for report in EVENT_REPORTS for i in self.activity(report, start, end)
                  if mark.is_new(*_event_time(i[2]))]
        incidents, alarm_events = parser.parse_alarms(alarms, entities, self.mapping, self.source)
        device_events = merge(self.source, "device_events",
                              [parser.parse_events(events, entities, self.mapping, self.source), alarm_events])
        open_since = [t for t, _ in (_open_alarm(i[2]) for i in alarms) if t is not None]
        mark = mark.advance([_alarm_time(i[2]) for i in alarms] + [_event_time(i[2]) for i in events], open_since)
        if mark.resume_from is None:
            mark = Watermark(start, None, frozenset())
        return [incidents, device_events, devices], memory.encode(mark.encode())


def _sdk_time(at: datetime) -> str:
    return at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S")


def _try(value: Any, fld: str) -> datetime | None:
    try:
        return parser.optional(value, fld)
    except RecordError:
        return None


def _alarm_time(item: Any) -> tuple[datetime | None, str | None]:
    """An alarm's record time is its latest change, so an acknowledgement counts as new."""
    if not isinstance(item, dict):
        return None, None
    times = [_try(item.get(k), k) for k in ("TriggerTime", "InvestigatedTime", "AckedTime")]
    known = [t for t in times if t is not None]
    return (max(known) if known else None), id_text(item.get("InstanceId"))


def _open_alarm(item: Any) -> tuple[datetime | None, None]:
    if not isinstance(item, dict) or (_try(item.get("AckedTime"), "AckedTime")
                                      and _try(item.get("InvestigatedTime"), "InvestigatedTime")):
        return None, None
    return _try(item.get("TriggerTime"), "TriggerTime"), None


def _event_time(item: Any) -> tuple[datetime | None, str | None]:
    if not isinstance(item, dict):
        return None, None
    return _try(item.get("Timestamp"), "Timestamp"), parser.event_record_id(item)
