"""A local stand-in for the AMAG export endpoint our client reads (127.0.0.1, ephemeral port).

AMAG publishes no REST API. We assume a thin read-only HTTP export in front of the
documented read-only SQL access to `multiMAXTxn.ActivityDataView` (docs/connectors/amag.md):
`GET /export/activity?after=<TxnID>&limit=<n>` answers CSV rows with TxnID > after in TxnID
order, `GET /export/devices` the device export, both behind HTTP Basic auth (the XML
Open Integration service also uses basic/WSSE auth). It can answer 429 (Retry-After) or
503 a given number of times."""

from __future__ import annotations

import base64
import csv
import io
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

from connectors.amag.parser import ACTIVITY_COLUMNS, DEVICE_COLUMNS


class FakeSymmetryExport:
    """Context manager: `with FakeSymmetryExport(transactions, devices) as fake: fake.base_url`.

    `transactions` and `devices` are dicts keyed by the export's column names, values as the
    SQL export writes them (`2025-03-04 02:14:07.000`)."""

    def __init__(self, transactions: list[dict[str, Any]] | None = None,
                 devices: list[dict[str, Any]] | None = None, *, user: str = "vigil",
                 password: str = "secret", max_limit: int = 1000):
        self.transactions = list(transactions or [])
        self.devices = list(devices or [])
        self.user, self.password, self.max_limit = user, password, max_limit
        self.requests: list[tuple[str, str, int]] = []
        self._faults: list[tuple[int, str | None]] = []
        self._lock = threading.Lock()
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    def fail_next(self, status: int, times: int = 1, retry_after: str | None = None) -> None:
        """The next `times` requests (whatever their path) answer `status`."""
        with self._lock:
            self._faults.extend([(status, retry_after)] * times)

    def add_transactions(self, rows: list[dict[str, Any]]) -> None:
        with self._lock:
            self.transactions.extend(rows)

    @property
    def base_url(self) -> str:
        assert self._server is not None, "server not started"
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def statuses(self) -> list[int]:
        return [status for _, _, status in self.requests]

    def __enter__(self) -> FakeSymmetryExport:
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

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: Any) -> None:
                pass

            def do_GET(self) -> None:  # noqa: N802
                status, body, headers = fake._answer(self.path, self.headers.get("Authorization"))
                data = body.encode("utf-8")
                with fake._lock:
                    fake.requests.append(("GET", self.path, status))
                self.send_response(status)
                for key, value in {"Content-Length": str(len(data)), **headers}.items():
                    self.send_header(key, value)
                self.end_headers()
                self.wfile.write(data)

        return Handler

    def _answer(self, raw_path: str, authorization: str | None) -> tuple[int, str, dict[str, str]]:
        text = {"Content-Type": "text/plain; charset=utf-8"}
        with self._lock:
            fault = self._faults.pop(0) if self._faults else None
        if fault is not None:
            status, retry_after = fault
            return status, f"HTTP {status}\n", {**text, **({"Retry-After": retry_after} if retry_after else {})}
        expected = "Basic " + base64.b64encode(f"{self.user}:{self.password}".encode()).decode()
        if authorization != expected:
            return 401, "invalid user or password\n", {**text, "WWW-Authenticate": 'Basic realm="Symmetry"'}
        url = urlsplit(raw_path)
        query = {k: v[-1] for k, v in parse_qs(url.query).items()}
        csv_type = {"Content-Type": "text/csv; charset=utf-8"}
        if url.path == "/export/activity":
            try:
                after, limit = int(query.get("after", "0")), int(query.get("limit", "500"))
            except ValueError:
                return 400, "after and limit must be integers\n", text
            if limit < 1:
                return 400, "limit must be positive\n", text
            with self._lock:
                rows = sorted((r for r in self.transactions if _txn(r) > after), key=_txn)
            return 200, _csv(ACTIVITY_COLUMNS, rows[: min(limit, self.max_limit)]), csv_type
        if url.path == "/export/devices":
            with self._lock:
                rows = list(self.devices)
            return 200, _csv(DEVICE_COLUMNS, rows), csv_type
        return 404, f"no route {url.path}\n", text


def _txn(row: dict[str, Any]) -> int:
    try:
        return int(row.get("TxnID") or 0)
    except ValueError:
        return 0


def _csv(columns: list[str], rows: list[dict[str, Any]]) -> str:
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=columns, extrasaction="ignore", lineterminator="\r\n")
    writer.writeheader()
    for row in rows:
        writer.writerow({c: "" if row.get(c) is None else row.get(c) for c in columns})
    return out.getvalue()
