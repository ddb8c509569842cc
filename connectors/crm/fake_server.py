"""A local stand-in for the CRM REST API (our design, docs/connectors/crm.md), for tests and
the demo, on 127.0.0.1 with an ephemeral port.

`GET /api/v1/accounts?updated_since=<ISO>&cursor=<opaque>&limit=<n>` with header
`X-API-Key` answers `{"data": [account, ...], "next_cursor": <opaque or null>}`: accounts
with sites, contacts and contracts (with lines) nested, ordered by (LastModifiedDate,
AccountNumber), `updated_since` inclusive. The cursor is opaque to clients (it encodes
the offset and the filter it belongs to, and is refused with another filter). The fake
can answer 429 (with Retry-After) or 503 a given number of times."""

from __future__ import annotations

import base64
import copy
import json
import threading
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

ACCOUNTS_PATH = "/api/v1/accounts"


class FakeCrm:
    """Context manager: `with FakeCrm(accounts) as fake: fake.base_url`."""

    def __init__(self, accounts: list[dict[str, Any]] | None = None, *, api_key: str = "crm-test-key",
                 default_limit: int = 2, max_limit: int = 100):
        self.accounts = [copy.deepcopy(a) for a in accounts or []]
        self.api_key = api_key
        self.default_limit, self.max_limit = default_limit, max_limit
        self.requests: list[tuple[str, str, int]] = []
        self._faults: list[tuple[int, str | None]] = []
        self._lock = threading.Lock()
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # --- control ------------------------------------------------------------------------------
    def fail_next(self, status: int, times: int = 1, retry_after: str | None = None) -> None:
        with self._lock:
            self._faults.extend([(status, retry_after)] * times)

    def update(self, account_number: str, modified: str, **fields: Any) -> None:
        """Change an account's top-level fields and its LastModifiedDate, as an edit in the CRM."""
        with self._lock:
            account = next(a for a in self.accounts if a.get("AccountNumber") == account_number)
            account.update(fields)
            account["LastModifiedDate"] = modified

    def add(self, account: dict[str, Any]) -> None:
        with self._lock:
            self.accounts.append(copy.deepcopy(account))

    @property
    def base_url(self) -> str:
        assert self._server is not None, "server not started"
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def statuses(self) -> list[int]:
        return [status for _, _, status in self.requests]

    def __enter__(self) -> FakeCrm:
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

            def log_message(self, *args: Any) -> None:
                pass

            def do_GET(self) -> None:  # noqa: N802
                status, payload, headers = fake._answer(self.path, dict(self.headers))
                data = json.dumps(payload).encode()
                with fake._lock:
                    fake.requests.append(("GET", self.path, status))
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                for key, value in headers.items():
                    self.send_header(key, value)
                self.end_headers()
                self.wfile.write(data)

        return Handler

    def _answer(self, raw_path: str, headers: dict[str, str]):
        with self._lock:
            fault = self._faults.pop(0) if self._faults else None
        if fault is not None:
            status, retry_after = fault
            return status, {"error": "unavailable", "message": f"HTTP {status}"}, (
                {"Retry-After": retry_after} if retry_after is not None else {})
        url = urlsplit(raw_path)
        if url.path != ACCOUNTS_PATH:
            return 404, {"error": "not_found", "message": f"no route {url.path}"}, {}
        key = {k.lower(): v for k, v in headers.items()}.get("x-api-key")
        if key != self.api_key:
            return 401, {"error": "unauthorized", "message": "missing or invalid X-API-Key"}, {}
        query = {k: v[-1] for k, v in parse_qs(url.query).items()}
        since_text = query.get("updated_since") or ""
        since = _instant(since_text) if since_text else None
        if since_text and since is None:
            return 400, {"error": "bad_request", "message": f"updated_since {since_text!r} is not ISO-8601"}, {}
        try:
            limit = min(int(query.get("limit", self.default_limit)), self.max_limit)
        except ValueError:
            return 400, {"error": "bad_request", "message": "limit must be an integer"}, {}
        offset = 0
        if query.get("cursor"):
            try:
                state = json.loads(base64.urlsafe_b64decode(query["cursor"].encode()))
                offset = int(state["o"])
                if state["s"] != since_text:
                    raise ValueError
            except (ValueError, KeyError, TypeError):
                return 400, {"error": "bad_cursor", "message": "cursor is invalid for this query"}, {}
        with self._lock:
            items = [copy.deepcopy(a) for a in self.accounts]
        if since is not None:
            items = [a for a in items if (at := _instant(a.get("LastModifiedDate"))) is not None and at >= since]
        earliest = datetime.min.replace(tzinfo=UTC)
        items.sort(key=lambda a: (_instant(a.get("LastModifiedDate")) or earliest, str(a.get("AccountNumber", ""))))
        chunk = items[offset:offset + limit]
        nxt = None
        if offset + limit < len(items):
            nxt = base64.urlsafe_b64encode(json.dumps({"o": offset + limit, "s": since_text}).encode()).decode()
        return 200, {"data": chunk, "next_cursor": nxt}, {}


def _instant(value: Any) -> datetime | None:
    if not isinstance(value, str) or not value.strip():
        return None
    try:
        at = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
    except ValueError:
        return None
    return at if at.tzinfo is not None else None
