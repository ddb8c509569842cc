"""CRM REST client: incremental pull of accounts (with their sites, contacts, contracts and
recurring lines) -> contract documents.

The API is our documented design (docs/connectors/crm.md), modelled on what CRMs offer:
an `X-API-Key` header, `GET /api/v1/accounts?updated_since=&cursor=&limit=` with opaque
cursor pagination (`next_cursor`). An edit anywhere in an account bumps its
`LastModifiedDate`, so a changed account comes back whole and is re-mapped whole (a
client's document is all-or-nothing). 429 and 5xx are retried with backoff by
connectors.http; a refused key raises CrmAuthError at once.

The incremental cursor is connectors.http.Watermark over `LastModifiedDate`: the query
asks `updated_since` the newest time already seen (inclusive, so an account edited in the
same second is not missed) and the account numbers seen at that instant are skipped, so a
pull with nothing new returns nothing."""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import requests

from connectors.base import ParseResult
from connectors.crm import parser
from connectors.http import HttpError, RetryingHttp, Watermark, body_excerpt, iso_ms

ACCOUNTS_PATH = "/api/v1/accounts"


class CrmError(RuntimeError):
    """The CRM answered with an error we cannot retry away."""


class CrmAuthError(CrmError):
    """The API key was refused."""


class CrmClient:
    def __init__(self, base_url: str, api_key: str, *, source: str = "crm", limit: int = 100,
                 contracts_dir: Path | None = None, base_documents: dict[str, dict] | None = None,
                 http: RetryingHttp | None = None, timeout: float = 10.0, max_attempts: int = 5,
                 backoff: float = 0.5, sleep: Callable[[float], None] = time.sleep):
        self.base_url = base_url.rstrip("/")
        self.api_key = api_key
        self.source, self.limit = source, limit
        self.contracts_dir, self.base_documents = contracts_dir, base_documents
        self.http = http or RetryingHttp(timeout=timeout, max_attempts=max_attempts, backoff=backoff, sleep=sleep)

    def get(self, params: dict[str, Any]) -> dict[str, Any]:
        url = f"{self.base_url}{ACCOUNTS_PATH}"
        try:
            resp = self.http.request("GET", url, params=params, raise_for_status=False,
                                     headers={"X-API-Key": self.api_key, "Accept": "application/json"})
        except HttpError as exc:
            raise CrmError(str(exc)) from exc
        what = f"GET {ACCOUNTS_PATH}?{urlencode(params)}"
        if resp.status_code in (401, 403):
            raise CrmAuthError(f"{what}: the CRM refused the API key (HTTP {resp.status_code} "
                               f"{_error_text(resp)}); check the key configured for source {self.source!r}")
        if resp.status_code >= 400:
            raise CrmError(f"{what}: HTTP {resp.status_code} {_error_text(resp)}")
        try:
            data = resp.json()
        except ValueError:
            raise CrmError(f"{what}: answer is not JSON: {body_excerpt(resp, 200)!r}") from None
        if not isinstance(data, dict) or not isinstance(data.get("data"), list):
            raise CrmError(f"{what}: answer has no data list")
        return data

    def accounts(self, updated_since: datetime | None) -> list[tuple[str, int, Any]]:
        """(page address, position, account) for every page, following next_cursor."""
        base: dict[str, Any] = {"limit": self.limit}
        if updated_since is not None:
            base["updated_since"] = iso_ms(updated_since)
        out: list[tuple[str, int, Any]] = []
        cursor: str | None = None
        while True:
            params = {**base, **({"cursor": cursor} if cursor else {})}
            page = self.get(params)
            address = f"{self.base_url}{ACCOUNTS_PATH}?{urlencode(params)}"
            out.extend((address, n, item) for n, item in enumerate(page["data"], start=1))
            cursor = page.get("next_cursor")
            if not cursor or not page["data"]:
                return out

    def pull(self, since_cursor: str | None) -> tuple[list[ParseResult], str]:
        """Accounts changed since the cursor -> [contract_documents], and the next cursor."""
        mark = Watermark.decode(since_cursor)
        items = self.accounts(mark.resume_from or mark.high_water)
        stamped = [(_modified(item), _number(item)) for _, _, item in items]
        fresh = [entry for entry, (at, number) in zip(items, stamped, strict=True) if mark.is_new(at, number)]
        if self.base_documents is not None:
            base, blocked = self.base_documents, {}
        elif self.contracts_dir is not None:
            base, blocked = parser.load_base_documents(Path(self.contracts_dir))
        else:
            base, blocked = {}, {}
        result = parser.map_bundles(parser.bundles_from_json(fresh), base, blocked, self.source)
        return [result], mark.advance(stamped).encode()


def _modified(item: Any) -> datetime | None:
    if not isinstance(item, dict) or not isinstance(item.get("LastModifiedDate"), str):
        return None
    try:
        at = datetime.fromisoformat(item["LastModifiedDate"].strip().replace("Z", "+00:00"))
    except ValueError:
        return None
    return at.astimezone(UTC) if at.tzinfo else None


def _number(item: Any) -> str | None:
    return str(item.get("AccountNumber")) if isinstance(item, dict) and item.get("AccountNumber") else None


def _error_text(resp: requests.Response) -> str:
    try:
        data = resp.json()
        return str(data.get("message") or data.get("error") or data)
    except (ValueError, AttributeError):
        return body_excerpt(resp, 200)
