"""Salesforce REST client for the CRM connector: accounts (with contacts) and contracts
(with their recurring lines) -> the CRM's contract documents.

Authentication is the OAuth 2.0 client credentials flow of a connected app
(`POST <My Domain>/services/oauth2/token`); the answer's `instance_url` is where queries
go: `GET /services/data/<version>/query?q=<SOQL>`, following `nextRecordsUrl` until
`done`. A 401 (session expired) gets one new token and the call is repeated; 429 and 5xx
are retried with backoff by connectors.http.

Change tracking: an edit to a contract or a line does not touch its Account's
`LastModifiedDate`, so the cursor is the newest `LastModifiedDate` over accounts,
contracts and lines (plus the hash of the deployment's `sites.csv`). A pull first asks
each object for anything modified after it (`LIMIT 1`); with nothing new it returns
nothing, else it reads every account and contract and maps them all: a client's
document is all-or-nothing, and an unchanged one hashes the same and is stored once."""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import requests

from connectors.base import ParseResult
from connectors.crm import parser
from connectors.crm.records import bundles_from_tables, merge_tables, query_result_rows, read_csv
from connectors.http import HttpError, RetryingHttp, body_excerpt

API_VERSION = "v60.0"
ACCOUNTS_SOQL = ("SELECT Id, AccountNumber, Name, Phone, Vigil_Client_Id__c, Preferred_Channel__c, Auto_Pay__c, "
                 "Payment_Method_Ref__c, Invoice_Grouping__c, CurrencyIsoCode, LastModifiedDate, "
                 "(SELECT Id, FirstName, LastName, Email, Phone, Role__c FROM Contacts) FROM Account")
CONTRACTS_SOQL = ("SELECT Id, AccountId, ContractNumber, Status, StartDate, EndDate, ContractTerm, Service_Tier__c, "
                  "RMR__c, Billing_Cycle__c, Auto_Renew__c, Issue_Lead_Days__c, Promo_Percent__c, "
                  "Promo_Categories__c, Promo_Cycles__c, LastModifiedDate, (SELECT Id, Item_Code__c, Family__c, "
                  "Site_Id__c, Device_Type__c, Monthly_Amount__c, Bill_Cycle__c, Cycle_Start_Date__c, "
                  "Cycle_End_Date__c, Is_Cancelled__c, LastModifiedDate FROM Contract_Lines__r) FROM Contract")
CHANGE_OBJECTS = ("Account", "Contract", "Contract_Line__c")


class CrmError(RuntimeError):
    """Salesforce answered with an error we cannot retry away."""


class CrmAuthError(CrmError):
    """The connected app's credentials were refused."""


class CrmClient:
    def __init__(self, base_url: str, client_id: str, client_secret: str, *, sites: Path,
                 source: str = "crm", contracts_dir: Path | None = None,
                 base_documents: dict[str, dict] | None = None, http: RetryingHttp | None = None,
                 timeout: float = 10.0, max_attempts: int = 5, backoff: float = 0.5,
                 sleep: Callable[[float], None] = time.sleep):
        self.base_url = base_url.rstrip("/")
        self.client_id, self.client_secret = client_id, client_secret
        self.sites = Path(sites)
        self.source = source
        self.contracts_dir, self.base_documents = contracts_dir, base_documents
        self.http = http or RetryingHttp(timeout=timeout, max_attempts=max_attempts, backoff=backoff, sleep=sleep)
        self.token: str | None = None
        self.instance_url: str | None = None

    # --- transport ------------------------------------------------------------------------------
    def authenticate(self) -> None:
        url = f"{self.base_url}/services/oauth2/token"
        form = {"grant_type": "client_credentials", "client_id": self.client_id, "client_secret": self.client_secret}
        try:
            resp = self.http.request("POST", url, data=form, raise_for_status=False)
        except HttpError as exc:
            raise CrmError(str(exc)) from exc
        if resp.status_code in (400, 401, 403):
            raise CrmAuthError(f"POST /services/oauth2/token: Salesforce refused the client credentials of "
                               f"connected app {self.client_id!r} (HTTP {resp.status_code} {_error_text(resp)}); "
                               f"check the credentials configured for source {self.source!r}")
        data = self._json(resp, "POST /services/oauth2/token")
        if not data.get("access_token") or not data.get("instance_url"):
            raise CrmAuthError("POST /services/oauth2/token answered without access_token and instance_url")
        self.token, self.instance_url = data["access_token"], str(data["instance_url"]).rstrip("/")

    def get(self, path: str, params: dict[str, str] | None = None) -> dict[str, Any]:
        """GET on the instance; one new token when the session has expired."""
        if self.token is None:
            self.authenticate()
        resp = self._send(path, params)
        if resp.status_code == 401:
            self.authenticate()
            resp = self._send(path, params)
        what = f"GET {path}" + (f"?{urlencode(params)}" if params else "")
        if resp.status_code in (401, 403):
            raise CrmAuthError(f"{what}: Salesforce refused the session (HTTP {resp.status_code} "
                               f"{_error_text(resp)})")
        if resp.status_code >= 400:
            raise CrmError(f"{what}: HTTP {resp.status_code} {_error_text(resp)}")
        return self._json(resp, what)

    def _send(self, path: str, params: dict[str, str] | None) -> requests.Response:
        headers = {"Authorization": f"Bearer {self.token}", "Accept": "application/json"}
        try:
            return self.http.request("GET", f"{self.instance_url}{path}", params=params, headers=headers,
                                     raise_for_status=False)
        except HttpError as exc:
            raise CrmError(str(exc)) from exc

    def _json(self, resp: requests.Response, what: str) -> dict[str, Any]:
        if resp.status_code >= 400:
            raise CrmError(f"{what}: HTTP {resp.status_code} {_error_text(resp)}")
        try:
            data = parser.load_json(resp.text)
        except ValueError:
            raise CrmError(f"{what}: answer is not JSON: {body_excerpt(resp, 200)!r}") from None
        if not isinstance(data, dict):
            raise CrmError(f"{what}: answer is not a JSON object")
        return data

    def query(self, soql: str) -> list[tuple[str, dict[str, Any]]]:
        """(page address, query result) for every page of `soql`."""
        path = f"/services/data/{API_VERSION}/query"
        page = self.get(path, {"q": soql})
        pages = [(f"{self.instance_url}{path}?{urlencode({'q': soql})}", page)]
        while not page.get("done", True) and page.get("nextRecordsUrl"):
            path = str(page["nextRecordsUrl"])
            page = self.get(path)
            pages.append((f"{self.instance_url}{path}", page))
        for address, result in pages:
            if not parser.is_query_result(result):
                raise CrmError(f"GET {address}: not a query result (no totalSize and records)")
        return pages

    # --- pulls ------------------------------------------------------------------------------------
    def changed_since(self, since: str) -> bool:
        for name in CHANGE_OBJECTS:
            if any(page["records"] for _, page in self.query(f"SELECT Id FROM {name} "
                                                              f"WHERE LastModifiedDate > {since} LIMIT 1")):
                return True
        return False

    def pull(self, since_cursor: str | None) -> tuple[list[ParseResult], str]:
        """The CRM documents when anything changed since the cursor, and the next cursor."""
        try:
            previous = json.loads(since_cursor) if since_cursor else {}
        except ValueError:
            raise CrmError(f"unreadable CRM cursor {since_cursor!r}: expected the JSON this client writes") from None
        sites_text = self.sites.read_text(encoding="utf-8-sig") if self.sites.is_file() else ""
        sites_hash = hashlib.sha256(sites_text.encode()).hexdigest()
        if previous.get("modified") and previous.get("sites") == sites_hash \
                and not self.changed_since(previous["modified"]):
            return [parser.map_bundles([], {}, self.source)], since_cursor or ""
        parts, problems = [], []
        for soql in (ACCOUNTS_SOQL, CONTRACTS_SOQL):
            for address, page in self.query(soql):
                parts.append(query_result_rows(address, page, problems))
        if sites_text:
            parts.append({"sites": read_csv(str(self.sites), sites_text, parser.FILES["sites.csv"])})
        tables = merge_tables(parts)
        bundles, orphans = bundles_from_tables(tables)
        base = self.base_documents
        if base is None:
            base = parser.load_base_documents(Path(self.contracts_dir)) if self.contracts_dir else {}
        result = parser.map_bundles(bundles, base, self.source)
        result.quarantined[:0] = parser.quarantine(self.source, problems + orphans, None)
        newest = max((_modified(row.data.get("LastModifiedDate")) for rows in tables.values() for row in rows),
                     default=None)
        cursor = {"modified": _soql_datetime(newest) if newest else previous.get("modified"), "sites": sites_hash}
        return [result], json.dumps(cursor, separators=(",", ":"))


def _modified(value: Any) -> datetime:
    try:
        at = datetime.fromisoformat(str(value).strip().replace("Z", "+00:00"))
    except ValueError:
        return datetime.min.replace(tzinfo=UTC)
    return at.astimezone(UTC) if at.tzinfo else datetime.min.replace(tzinfo=UTC)


def _soql_datetime(at: datetime) -> str:
    """A SOQL datetime literal: UTC with `Z`, no quotes."""
    return at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.") + f"{at.microsecond // 1000:03d}Z"


def _error_text(resp: requests.Response) -> str:
    try:
        data = resp.json()
    except ValueError:
        return body_excerpt(resp, 200)
    if isinstance(data, list) and data and isinstance(data[0], dict):  # [{"message", "errorCode"}]
        return f"{data[0].get('errorCode', '')}: {data[0].get('message', '')}"
    if isinstance(data, dict):
        return str(data.get("error_description") or data.get("error") or data)
    return str(data)
