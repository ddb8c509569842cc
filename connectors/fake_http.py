"""Plumbing every local fake vendor server shares: a ThreadingHTTPServer on 127.0.0.1 with
an ephemeral port, a request log, and injected faults (429 with Retry-After, 503...)
answered before any routing, so client retries are exercised over real HTTP."""

from __future__ import annotations

import json
import threading
from datetime import datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

ANSWER = tuple[int, Any, dict[str, str]]


def aware_instant(value: Any) -> datetime | None:
    """An instant in a query or a record, as the fakes compare them: ISO-8601 with an offset
    (`Z` too); anything else is none, which no filter matches."""
    if not isinstance(value, str):
        return None
    try:
        at = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
    except ValueError:
        return None
    return at if at.tzinfo is not None else None


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
