"""A local stand-in for the Genetec Web SDK, for tests and the demo (research section 1).

`FakeWebSdk` checks Basic auth `user;appId` and `Accept: text/json` (otherwise it answers
legacy XML, as the real SDK does), pages EntityConfiguration with the one-extra-item rule,
and answers activity reports for a `TimeRange.SetTimeRange(a,b)` window, with
`TooManyResults` past `max_results` rows."""

from __future__ import annotations

import base64
import re
from datetime import datetime
from typing import Any

from connectors.fake_http import ANSWER, LocalServer

# ============================================================================ Genetec Web SDK

_RANGE_RE = re.compile(r"TimeRange\.SetTimeRange\(([^,]+),([^)]+)\)")
_PARAM_RE = re.compile(r"(Page|PageSize)=(\d+)")
DOOR_TYPES = {"door", "unit"}


def _utc(text: str) -> datetime:
    return datetime.fromisoformat(text.strip().rstrip("Z"))



class FakeWebSdk(LocalServer):
    """`with FakeWebSdk(entities, alarms, events) as sdk: sdk.base_url`. Alarms and events are
    report rows as the simulator writes them; `update_alarm` changes one later (an alarm
    acknowledged after a pull saw it open)."""

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

    def answer(self, method: str, path: str, query: dict[str, list[str]], headers: dict[str, str],
               body: bytes) -> ANSWER:
        if not self._authorised(headers.get("authorization", "")):
            return 401, b"Unauthorized", {"Content-Type": "text/plain", "WWW-Authenticate": 'Basic realm="WebSdk"'}
        if "text/json" not in headers.get("accept", ""):
            return 200, b"<rsp status=\"ok\"><result/></rsp>", {"Content-Type": "text/xml"}
        match = re.fullmatch(r"/WebSdk/report/(\w+)", path)
        if method != "GET" or not match:
            return 404, {"Rsp": {"Status": "Fail", "Result": {"SdkErrorCode": "UnknownRequest",
                                                              "Message": f"no route {method} {path}"}}}, {}
        q = (query.get("q") or [""])[0]
        report = match.group(1)
        if report == "EntityConfiguration":
            return self._entities(q)
        rows = {"AlarmActivity": self.alarms, "DoorActivity": self._events(True),
                "CameraActivity": self._events(False)}.get(report)
        if rows is None:
            return 200, {"Rsp": {"Status": "Fail", "Result": {"SdkErrorCode": "InvalidReportType",
                                                              "Message": report}}}, {}
        window = _RANGE_RE.search(q)
        if not window:  # activity reports need at least one filter
            return 200, {"Rsp": {"Status": "Fail", "Result": {"SdkErrorCode": "MissingFilter",
                                                              "Message": "activity reports need a filter"}}}, {}
        start, end = _utc(window.group(1)), _utc(window.group(2))
        field = "TriggerTime" if report == "AlarmActivity" else "Timestamp"
        hits = [r for r in rows if start <= _utc(r[field]) < end]
        hits.sort(key=lambda r: r[field])
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

    def _events(self, doors: bool) -> list[dict[str, Any]]:
        kinds = {str(e.get("Guid", "")).lower(): str(e.get("EntityType", "")).lower() for e in self.entities}
        return [e for e in self.events if (kinds.get(str(e.get("Source", "")).lower()) in DOOR_TYPES) == doors]

    def _entities(self, q: str) -> ANSWER:
        params = dict(_PARAM_RE.findall(q))
        page, size = int(params.get("Page", 1)), min(int(params.get("PageSize", 100)), self.max_page_size)
        wanted = {t.lower() for t in re.findall(r"@(\w+)", q.split(",")[0])} if q.startswith("EntityTypes") else None
        rows = [e for e in self.entities if wanted is None or str(e.get("EntityType", "")).lower() in wanted]
        start = (page - 1) * size
        # one extra item tells the caller that another page follows
        return 200, {"Rsp": {"Status": "Ok", "Result": rows[start:start + size + 1]}}, {}
