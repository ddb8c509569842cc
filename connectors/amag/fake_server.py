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
from typing import Any

from connectors.amag.parser import ACTIVITY_COLUMNS, DEVICE_COLUMNS
from connectors.fake_http import ANSWER, LocalServer

TEXT = {"Content-Type": "text/plain; charset=utf-8"}
CSV = {"Content-Type": "text/csv; charset=utf-8"}


class FakeSymmetryExport(LocalServer):
    """Context manager: `with FakeSymmetryExport(transactions, devices) as fake: fake.base_url`.

    `transactions` and `devices` are dicts keyed by the export's column names, values as the
    SQL export writes them (`2025-03-04 02:14:07.000`). Faults: LocalServer.fail_next."""

    def __init__(self, transactions: list[dict[str, Any]] | None = None,
                 devices: list[dict[str, Any]] | None = None, *, user: str = "vigil",
                 password: str = "secret", max_limit: int = 1000):
        super().__init__()
        self.transactions = list(transactions or [])
        self.devices = list(devices or [])
        self.user, self.password, self.max_limit = user, password, max_limit

    def add_transactions(self, rows: list[dict[str, Any]]) -> None:
        with self.lock:
            self.transactions.extend(rows)

    @property
    def base_url(self) -> str:
        return self.url

    def answer(self, method: str, path: str, query: dict[str, list[str]], headers: dict[str, str],
               body: bytes) -> ANSWER:
        expected = "Basic " + base64.b64encode(f"{self.user}:{self.password}".encode()).decode()
        if headers.get("authorization") != expected:
            return 401, b"invalid user or password\n", {**TEXT, "WWW-Authenticate": 'Basic realm="Symmetry"'}
        flat = {k: v[-1] for k, v in query.items()}
        if method == "GET" and path == "/export/activity":
            try:
                after, limit = int(flat.get("after", "0")), int(flat.get("limit", "500"))
            except ValueError:
                return 400, b"after and limit must be integers\n", dict(TEXT)
            if limit < 1:
                return 400, b"limit must be positive\n", dict(TEXT)
            with self.lock:
                rows = sorted((r for r in self.transactions if _txn(r) > after), key=_txn)
            return 200, _csv(ACTIVITY_COLUMNS, rows[: min(limit, self.max_limit)]).encode(), dict(CSV)
        if method == "GET" and path == "/export/devices":
            with self.lock:
                rows = list(self.devices)
            return 200, _csv(DEVICE_COLUMNS, rows).encode(), dict(CSV)
        return 404, f"no route {path}\n".encode(), dict(TEXT)


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
