"""A local stand-in for the Genetec Web SDK, for tests and the demo (research section 1).

`LocalServer` is the plumbing the three video fakes share (Milestone and Avigilon import
it): ThreadingHTTPServer on 127.0.0.1 with an ephemeral port, a request log, and injected
faults (429 with Retry-After, 503...) answered before any routing, so client retries are
exercised over real HTTP.

`FakeWebSdk` checks Basic auth `user;appId` and `Accept: text/json` (otherwise it answers
legacy XML, as the real SDK does), pages EntityConfiguration with the one-extra-item rule,
and answers activity reports for a `TimeRange.SetTimeRange(a,b)` window, with
`TooManyResults` past `max_results` rows."""

from __future__ import annotations

import base64
import json
import re
import threading
from datetime import datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

ANSWER = tuple[int, Any, dict[str, str]]


class LocalServer:
    """Subclasses implement `answer(method, path, query, headers, body) -> (status, payload,
    headers)`; a payload that is not bytes is sent as JSON."""

    def __init__(self) -> None:
        self.requests: list[tuple[str, str, int]] = []
        self._faults: list[tuple[int, str | None]] = []
        self.lock = threading.Lock()
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    def fail_next(self, status: int, times: int = 1, retry_after: str | None = None) -> None:
        """The next `times` requests, whatever their path, answer `status`."""
        with self.lock:
            self._faults.extend([(status, retry_after)] * times)

    def statuses(self) -> list[int]:
        return [s for _, _, s in self.requests]

    @property
    def url(self) -> str:
        assert self._server is not None, "server not started"
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def __enter__(self):
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def answer(self, method: str, path: str, query: dict[str, list[str]], headers: dict[str, str],
               body: bytes) -> ANSWER:
        raise NotImplementedError

    def _route(self, method: str, raw: str, headers: dict[str, str], body: bytes) -> ANSWER:
        with self.lock:
            fault = self._faults.pop(0) if self._faults else None
        if fault is not None:
            status, retry_after = fault
            return status, {"error": f"injected {status}"}, ({"Retry-After": retry_after} if retry_after else {})
        parts = urlsplit(raw)
        try:
            return self.answer(method, parts.path, parse_qs(parts.query), headers, body)
        except Exception as exc:  # a bug in a fake must show up as a 500, not a hung client
            return 500, {"error": f"fake server error: {exc!r}"}, {}

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: Any) -> None:
                pass

            def do_GET(self) -> None:  # noqa: N802
                self._serve("GET")

            def do_POST(self) -> None:  # noqa: N802
                self._serve("POST")

            def do_PUT(self) -> None:  # noqa: N802
                self._serve("PUT")

            def _serve(self, method: str) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                headers = {k.lower(): v for k, v in self.headers.items()}
                status, payload, extra = fake._route(method, self.path, headers, body)
                data = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
                with fake.lock:
                    fake.requests.append((method, self.path, status))
                self.send_response(status)
                self.send_header("Content-Type", extra.pop("Content-Type", "application/json"))
                self.send_header("Content-Length", str(len(data)))
                for key, value in extra.items():
                    self.send_header(key, value)
                self.end_headers()
                self.wfile.write(data)

        return Handler


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
