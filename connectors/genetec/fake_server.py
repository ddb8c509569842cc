"""A local stand-in for the Genetec Web SDK, for tests and the demo.

`FakeWebSdk` checks Basic auth `user;appId` and `Accept: text/json` (otherwise it answers
legacy XML, as the real SDK does). `report/EntityConfiguration` answers GUIDs only, paged with
the one-extra-item rule; `/entity?q=entity=<guid>,<field>,...` answers the projected fields of
each entity named (an object for one entity, a list for several); activity reports
(`AlarmActivity`, and `DoorActivity`, `CameraEvent`, `AccessControlUnitActivity` by the type
of each event's source) answer a `TimeRange.SetTimeRange(a,b)` window, with `TooManyResults`
past `max_results` rows. Rows are served exactly as given (integer enums, trimmed fractions)."""

from __future__ import annotations

import base64
import re
from datetime import datetime
from typing import Any

from connectors.fake_http import ANSWER, LocalServer
from connectors.vendor_parsing import parse_utc

_RANGE_RE = re.compile(r"TimeRange\.SetTimeRange\(([^,]+),([^)]+)\)")
_PARAM_RE = re.compile(r"(Page|PageSize)=(\d+)")
EVENT_REPORTS = {"DoorActivity": "door", "CameraEvent": "camera", "AccessControlUnitActivity": "unit"}


def _utc(text: str) -> datetime:
    return parse_utc(text, "time", naive_is_utc=True)


def _fail(code: str, message: str) -> dict[str, Any]:
    return {"Rsp": {"Status": "Fail", "Result": {"SdkErrorCode": code, "Message": message}}}


class FakeWebSdk(LocalServer):
    """`with FakeWebSdk(entities, alarms, events) as sdk: sdk.base_url`. `entities` are the
    details of every entity (what /entity can project); alarms and events are report rows as
    the simulator writes them; `update_alarm` changes one later (an alarm acknowledged after a
    pull saw it open) and `remove_entity` deletes one from the configuration."""

    def __init__(self, entities: list[dict[str, Any]] | None = None, alarms: list[dict[str, Any]] | None = None,
                 events: list[dict[str, Any]] | None = None, *, user: str = "vigil", app_id: str = "VIGIL-APP",
                 password: str = "secret", max_results: int = 1000, max_page_size: int = 1000):
        super().__init__()
        self.entities = list(entities or [])
        self.alarms = list(alarms or [])
        self.events = list(events or [])
        self.credentials = (f"{user};{app_id}", password)
        self.max_results, self.max_page_size = max_results, max_page_size

    @property
    def base_url(self) -> str:
        return f"{self.url}/WebSdk"

    def add(self, alarms: list[dict[str, Any]] = (), events: list[dict[str, Any]] = ()) -> None:  # type: ignore[assignment]
        with self.lock:
            self.alarms.extend(alarms)
            self.events.extend(events)

    def update_alarm(self, instance_id: int, **changes: Any) -> None:
        with self.lock:
            for row in self.alarms:
                if row.get("InstanceId") == instance_id:
                    row.update(changes)

    def remove_entity(self, guid: str) -> None:
        with self.lock:
            self.entities = [e for e in self.entities if str(e.get("Guid")).lower() != guid.lower()]

    def answer(self, method: str, path: str, query: dict[str, list[str]], headers: dict[str, str],
               body: bytes) -> ANSWER:
        if not self._authorised(headers.get("authorization", "")):
            return 401, b"Unauthorized", {"Content-Type": "text/plain", "WWW-Authenticate": 'Basic realm="WebSdk"'}
        if "text/json" not in headers.get("accept", ""):
            return 200, b"<rsp status=\"ok\"><result/></rsp>", {"Content-Type": "text/xml"}
        q = (query.get("q") or [""])[0]
        if method == "GET" and path == "/WebSdk/entity":
            return self._details(q)
        match = re.fullmatch(r"/WebSdk/report/(\w+)", path)
        if method != "GET" or not match:
            return 404, _fail("UnknownRequest", f"no route {method} {path}"), {}
        report = match.group(1)
        if report == "EntityConfiguration":
            return self._configuration(q)
        if report == "AlarmActivity":
            rows, field = self.alarms, "TriggerTime"
        elif report in EVENT_REPORTS:
            rows, field = self._events(EVENT_REPORTS[report]), "Timestamp"
        else:
            return 200, _fail("InvalidReportType", report), {}
        window = _RANGE_RE.search(q)
        if not window:  # activity reports need at least one filter
            return 200, _fail("MissingFilter", "activity reports need a filter"), {}
        start, end = _utc(window.group(1)), _utc(window.group(2))
        hits = sorted((r for r in rows if start <= _utc(r[field]) < end), key=lambda r: _utc(r[field]))
        if len(hits) > self.max_results:
            return 200, {"Rsp": {"Status": "TooManyResults", "Result": hits[: self.max_results]}}, {}
        return 200, {"Rsp": {"Status": "Ok", "Result": hits}}, {}

    def _authorised(self, header: str) -> bool:
        if not header.startswith("Basic "):
            return False
        try:
            user, _, password = base64.b64decode(header[6:]).decode().partition(":")
        except ValueError:
            return False
        return (user, password) == self.credentials

    def _kinds(self) -> dict[str, str]:
        return {str(e.get("Guid", "")).lower(): str(e.get("EntityType", "")).lower() for e in self.entities}

    def _events(self, kind: str) -> list[dict[str, Any]]:
        kinds = self._kinds()
        return [e for e in self.events if kinds.get(str(e.get("Source", "")).lower()) == kind]

    def _configuration(self, q: str) -> ANSWER:
        params = dict(_PARAM_RE.findall(q))
        page, size = int(params.get("Page", 1)), min(int(params.get("PageSize", 100)), self.max_page_size)
        wanted = {t.lower() for t in re.findall(r"@(\w+)", q.split(",")[0])} if q.startswith("EntityTypes") else None
        rows = [{"Guid": e["Guid"]} for e in self.entities
                if wanted is None or str(e.get("EntityType", "")).lower() in wanted]
        start = (page - 1) * size
        # one extra item tells the caller that another page follows
        return 200, {"Rsp": {"Status": "Ok", "Result": rows[start:start + size + 1]}}, {}

    def _details(self, q: str) -> ANSWER:
        by_guid = {str(e.get("Guid", "")).lower(): e for e in self.entities}
        answers = []
        for segment in (s.strip(",") for s in q.split("entity=") if s.strip(",")):
            guid, *fields = segment.split(",")
            entity = by_guid.get(guid.lower())
            if entity is None:
                return 200, _fail("InvalidEntity", f"entity {guid} not found"), {}
            answers.append({f: entity.get(f) for f in fields})
        result: Any = answers[0] if len(answers) == 1 else answers
        return 200, {"Rsp": {"Status": "Ok", "Result": result}}, {}
