"""A local stand-in for OnGuard OpenAccess, for tests and the demo: the documented shape
(research section 4) on 127.0.0.1 with an ephemeral port.

It checks `?version=1.0`, the `Application-Id` header, the session token from
`POST /authentication`, pages `/logged_events` and `/instances` with `total_pages`,
understands the one filter form the client sends (`timestamp >= "<ISO>"`), and can answer
429 (with Retry-After) or 503 a given number of times, or expire every session, so
retries and re-authentication are exercised over real HTTP."""

from __future__ import annotations

import json
import math
import re
import secrets
import threading
from datetime import datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

BASE_PATH = "/api/access/onguard/openaccess"
_FILTER_RE = re.compile(r'^\s*timestamp\s*(>=|>)\s*"([^"]+)"\s*$', re.IGNORECASE)


class FakeOpenAccess:
    """Context manager: `with FakeOpenAccess(events, instances) as fake: fake.base_url`.

    `events` are logged-event items (any key case); `instances` maps a type_name
    (`Lnl_Reader`, `Lnl_Panel`) to property_value_maps. With `vary_key_case`, even pages
    come back with upper-cased keys, as OpenAccess key case varies between calls."""

    def __init__(self, events: list[dict[str, Any]] | None = None,
                 instances: dict[str, list[dict[str, Any]]] | None = None, *,
                 user_name: str = "admin", password: str = "secret", application_id: str = "VIGIL-APP",
                 vary_key_case: bool = True, max_page_size: int = 100):
        self.events = list(events or [])
        self.instances = {k.lower(): list(v) for k, v in (instances or {}).items()}
        self.user_name, self.password, self.application_id = user_name, password, application_id
        self.vary_key_case = vary_key_case
        self.max_page_size = max_page_size
        self.sessions: set[str] = set()
        self.requests: list[tuple[str, str, int]] = []  # (method, path?query, status)
        self._faults: list[tuple[int, str | None]] = []
        self._lock = threading.Lock()
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # --- control ------------------------------------------------------------------------------
    def fail_next(self, status: int, times: int = 1, retry_after: str | None = None) -> None:
        """The next `times` requests (whatever their path) answer `status` (429, 503...)."""
        with self._lock:
            self._faults.extend([(status, retry_after)] * times)

    def expire_sessions(self) -> None:
        """Forget every session token, as an idle timeout on the OnGuard server would."""
        with self._lock:
            self.sessions.clear()

    def add_events(self, events: list[dict[str, Any]]) -> None:
        with self._lock:
            self.events.extend(events)

    @property
    def base_url(self) -> str:
        assert self._server is not None, "server not started"
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}{BASE_PATH}"

    def statuses(self) -> list[int]:
        return [status for _, _, status in self.requests]

    def __enter__(self) -> FakeOpenAccess:
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

    # --- request handling ---------------------------------------------------------------------
    def _handler(self) -> type[BaseHTTPRequestHandler]:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: Any) -> None:  # keep test output quiet
                pass

            def do_GET(self) -> None:  # noqa: N802
                self._dispatch("GET")

            def do_POST(self) -> None:  # noqa: N802
                self._dispatch("POST")

            def do_DELETE(self) -> None:  # noqa: N802
                self._dispatch("DELETE")

            def _dispatch(self, method: str) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                status, payload, headers = fake._answer(method, self.path, dict(self.headers), body)
                data = json.dumps(payload).encode()
                with fake._lock:
                    fake.requests.append((method, self.path, status))
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                for key, value in headers.items():
                    self.send_header(key, value)
                self.end_headers()
                self.wfile.write(data)

        return Handler

    def _answer(self, method: str, raw_path: str, headers: dict[str, str], body: bytes):
        with self._lock:
            fault = self._faults.pop(0) if self._faults else None
        if fault is not None:
            status, retry_after = fault
            return status, _error("openaccess.general.unavailable", f"HTTP {status}"), (
                {"Retry-After": retry_after} if retry_after is not None else {})
        url = urlsplit(raw_path)
        query = {k: v[-1] for k, v in parse_qs(url.query).items()}
        path = url.path[len(BASE_PATH):] if url.path.startswith(BASE_PATH) else None
        if path is None:
            return 404, _error("openaccess.general.notfound", "not found"), {}
        if query.get("version") != "1.0":
            return 400, _error("openaccess.general.invalidversion", "version=1.0 is required"), {}
        lowered = {k.lower(): v for k, v in headers.items()}
        if lowered.get("application-id") != self.application_id:
            return 400, _error("openaccess.general.invalidapplicationid", "invalid Application-Id"), {}
        if path == "/authentication" and method == "POST":
            return self._authenticate(body)
        with self._lock:
            valid = lowered.get("session-token") in self.sessions
        if not valid:
            return 401, _error("openaccess.general.sessiontimeout", "session expired or invalid"), {}
        if path == "/logged_events" and method == "GET":
            return self._logged_events(query)
        if path == "/instances" and method == "GET":
            return self._instances(query)
        return 404, _error("openaccess.general.notfound", f"no route {method} {path}"), {}

    def _authenticate(self, body: bytes):
        try:
            creds = json.loads(body or b"{}")
        except ValueError:
            return 400, _error("openaccess.general.badrequest", "body is not JSON"), {}
        if creds.get("user_name") != self.user_name or creds.get("password") != self.password:
            return 401, _error("openaccess.general.invalidcredentials", "invalid user name or password"), {}
        token = secrets.token_hex(16)
        with self._lock:
            self.sessions.add(token)
        return 200, {"session_token": token, "token_expiration_time": "2099-01-01T00:00:00+00:00",
                     "version": "1.0"}, {}

    def _paging(self, query: dict[str, str]) -> tuple[int, int] | None:
        try:
            number, size = int(query.get("page_number", "1")), int(query.get("page_size", "20"))
        except ValueError:
            return None
        if number < 1 or size < 1:
            return None
        return number, min(size, self.max_page_size)

    def _logged_events(self, query: dict[str, str]):
        paging = self._paging(query)
        if paging is None:
            return 400, _error("openaccess.general.badrequest", "bad page_number or page_size"), {}
        with self._lock:
            items = [{k.lower(): v for k, v in e.items()} for e in self.events]
        if query.get("filter"):
            match = _FILTER_RE.match(query["filter"])
            if not match:
                return 400, _error("openaccess.general.invalidfilter", f"unsupported filter {query['filter']!r}"), {}
            op, since = match.group(1), _instant(match.group(2))
            if since is None:
                return 400, _error("openaccess.general.invalidfilter", "bad timestamp in filter"), {}
            keep = []
            for item in items:
                at = _instant(item.get("timestamp"))
                if at is not None and (at >= since if op == ">=" else at > since):
                    keep.append(item)
            items = keep
        items.sort(key=_event_order)
        page = self._page(items, *paging)
        page["version"] = "1.0"
        return 200, page, {}

    def _instances(self, query: dict[str, str]):
        paging = self._paging(query)
        type_name = query.get("type_name", "")
        if paging is None:
            return 400, _error("openaccess.general.badrequest", "bad page_number or page_size"), {}
        if type_name.lower() not in self.instances:
            return 400, _error("openaccess.general.invalidtype", f"unknown type_name {type_name!r}"), {}
        with self._lock:
            items = [{"property_value_map": dict(p)} for p in self.instances[type_name.lower()]]
        page = self._page(items, *paging)
        page["type_name"] = type_name
        return 200, page, {}

    def _page(self, items: list[dict[str, Any]], number: int, size: int) -> dict[str, Any]:
        total = len(items)
        chunk = items[(number - 1) * size: number * size]
        if self.vary_key_case and number % 2 == 0:
            chunk = [_upper_keys(i) for i in chunk]
        return {"page_number": number, "page_size": size, "total_pages": max(1, math.ceil(total / size)),
                "total_items": total, "count": len(chunk), "item_list": chunk}


def _event_order(item: dict[str, Any]) -> tuple[Any, ...]:
    at = _instant(item.get("timestamp"))
    return (at is None, at.timestamp() if at else 0.0, str(item.get("serial_number")))


def _instant(value: Any) -> datetime | None:
    try:
        parsed = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed if parsed.tzinfo else None


def _upper_keys(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(k).upper(): _upper_keys(v) for k, v in value.items()}
    return value


def _error(code: str, message: str) -> dict[str, Any]:
    return {"error": {"code": code, "message": message}}
