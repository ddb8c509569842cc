"""Client for the AMAG Symmetry transaction export: incremental by TxnID.

AMAG has no public REST API. Of the documented surfaces (XML Open Integration SOAP,
Data Connect, read-only SQL), we read `ActivityDataView` through a thin HTTP export in
front of the read-only SQL access: `GET /export/activity?after=<TxnID>&limit=<n>` returns
the view's rows as CSV (the same format as the file export), `GET /export/devices` the
device export; HTTP Basic auth. TxnID is an identity column, so `TxnID > cursor` is a
complete and repeatable cursor. Timeouts and retries (429 honouring Retry-After, 5xx,
connection errors) are the shared `connectors.http.RetryingHttp`."""

from __future__ import annotations

import csv
import io
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import requests

from connectors.amag import parser
from connectors.base import ParseResult
from connectors.http import HttpError, RetryingHttp


class AmagError(RuntimeError):
    """The export endpoint answered with an error we cannot retry away."""


class AmagAuthError(AmagError):
    """The export endpoint refused our user name or password."""


class AmagClient:
    def __init__(self, base_url: str, user: str, password: str, *, sites: parser.SiteMap | Path,
                 source: str = "amag", page_size: int = 500, timeout: float = 10.0, max_attempts: int = 5,
                 backoff: float = 0.5, max_retry_after: float = 30.0, session: requests.Session | None = None,
                 sleep: Callable[[float], None] = time.sleep):
        self.base_url = base_url.rstrip("/")
        self.auth = (user, password)
        self.sites = sites if isinstance(sites, parser.SiteMap) else parser.load_sites(Path(sites), source)
        self.source = source
        self.page_size = page_size
        self.http = RetryingHttp(timeout=timeout, max_attempts=max_attempts, backoff=backoff,
                                 max_backoff=max_retry_after, session=session or requests.Session(), sleep=sleep)

    def get_csv(self, path: str, params: dict[str, Any]) -> tuple[str, str]:
        """(address, CSV text). 401/403 is a clear credentials error; exhausted retries and
        any other 4xx raise AmagError."""
        url = f"{self.base_url}{path}" + (f"?{urlencode(params)}" if params else "")
        try:
            resp = self.http.request("GET", url, raise_for_status=False, auth=self.auth,
                                     headers={"Accept": "text/csv"})
        except HttpError as exc:
            raise AmagError(f"AMAG export {exc}") from exc
        if resp.status_code in (401, 403):
            raise AmagAuthError(f"AMAG export at {self.base_url} refused user {self.auth[0]!r}: "
                                f"HTTP {resp.status_code} {resp.text.strip()[:200]}")
        if resp.status_code >= 400:
            raise AmagError(f"GET {path}: HTTP {resp.status_code} {resp.text.strip()[:200]}")
        resp.encoding = "utf-8"
        return url, resp.text

    def pull_devices(self) -> ParseResult:
        return parser.parse_device_csvs([self.get_csv("/export/devices", {})], self.sites, self.source)

    def pull(self, since_cursor: str | None) -> tuple[list[ParseResult], str]:
        """Transactions with TxnID > cursor, page by page, plus the device export (needed to
        name each transaction's device; the raw store keeps one row per unchanged device).
        The new cursor is the highest TxnID delivered, accepted or quarantined."""
        if since_cursor and not since_cursor.isdigit():
            raise AmagError(f"AMAG cursor must be a TxnID, got {since_cursor!r}")
        after = int(since_cursor or 0)
        devices = self.pull_devices()
        pages: list[tuple[str, str]] = []
        while True:
            address, text = self.get_csv("/export/activity", {"after": after, "limit": self.page_size})
            count, ids = _txn_ids(text)
            if not count:
                break
            pages.append((address, text))
            if not ids or max(ids) <= after:
                raise AmagError(f"export did not advance past TxnID {after}")
            after = max(ids)
            if count < self.page_size:
                break
        events = parser.parse_activity_csvs(pages, self.sites, parser.device_lookup(devices), self.source)
        return [events, devices], str(after) if (after or since_cursor) else ""


def _txn_ids(text: str) -> tuple[int, list[int]]:
    """(rows in the page, their TxnIDs): every row counts, so a quarantined one still moves
    the cursor."""
    reader = csv.DictReader(io.StringIO(parser.without_type_line(text)))
    ids, count = [], 0
    for row in reader:
        count += 1
        value = next((v for k, v in row.items() if (k or "").strip().lower() == "txnid"), "") or ""
        if value.strip().isdigit():
            ids.append(int(value.strip()))
    return count, ids
