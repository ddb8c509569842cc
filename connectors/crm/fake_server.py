"""A local stand-in for the Salesforce REST API as the CRM client uses it, for tests and
the demo, on connectors.fake_http.LocalServer.

- `POST /services/oauth2/token` (client credentials flow, form body) answers
  `{access_token, instance_url, token_type, issued_at}`; `instance_url` is this server.
- `GET /services/data/<version>/query?q=<SOQL>` with `Authorization: Bearer` answers a
  query result `{totalSize, done, records, nextRecordsUrl?}`, `batch_size` records a
  page; `GET /services/data/<version>/query/<locator>` the next page. The fake reads
  only what the client's queries need: the object after the outermost FROM, an optional
  `WHERE LastModifiedDate > <datetime>` and `LIMIT n`; every stored field is returned
  whatever the SELECT list says.
- A wrong token answers 401 `[{"message", "errorCode": "INVALID_SESSION_ID"}]`; faults
  (429, 503) come from LocalServer.fail_next."""

from __future__ import annotations

import copy
import re
import secrets
from typing import Any
from urllib.parse import parse_qs

from connectors.fake_http import ANSWER, LocalServer, aware_instant

_FROM = re.compile(r"\bFROM\s+(\w+)", re.IGNORECASE)
_SINCE = re.compile(r"\bWHERE\s+LastModifiedDate\s*>\s*(\S+)", re.IGNORECASE)
_LIMIT = re.compile(r"\bLIMIT\s+(\d+)", re.IGNORECASE)


class FakeSalesforce(LocalServer):
    """`with FakeSalesforce(accounts=..., contracts=...) as fake: fake.url`."""

    def __init__(self, accounts: list[dict[str, Any]] | None = None, contracts: list[dict[str, Any]] | None = None,
                 *, client_id: str = "vigil-crm", client_secret: str = "crm-secret", batch_size: int = 2,
                 line_relationship: str = "Contract_Lines__r"):
        super().__init__()
        self.records: dict[str, list[dict[str, Any]]] = {"account": copy.deepcopy(accounts or []),
                                                          "contract": copy.deepcopy(contracts or [])}
        self.client_id, self.client_secret = client_id, client_secret
        self.batch_size, self.line_relationship = batch_size, line_relationship
        self.tokens: set[str] = set()
        self.queries: list[str] = []
        self._locators: dict[str, tuple[list[dict[str, Any]], int]] = {}

    # --- control ------------------------------------------------------------------------------
    def update(self, kind: str, ident: str, modified: str, **fields: Any) -> None:
        """Edit a stored Account or Contract (`kind`) and bump its LastModifiedDate."""
        with self.lock:
            record = next(r for r in self.records[kind.lower()] if r["Id"] == ident)
            record.update(fields)
            record["LastModifiedDate"] = modified

    def revoke_tokens(self) -> None:
        with self.lock:
            self.tokens.clear()

    # --- answers ------------------------------------------------------------------------------
    def answer(self, method: str, path: str, query: dict[str, list[str]], headers: dict[str, str],
               body: bytes) -> ANSWER:
        if method == "POST" and path == "/services/oauth2/token":
            return self._token(body)
        if method != "GET" or not path.startswith("/services/data/"):
            return 404, [{"message": f"no route {method} {path}", "errorCode": "NOT_FOUND"}], {}
        token = headers.get("authorization", "").removeprefix("Bearer ")
        with self.lock:
            valid = token in self.tokens
        if not valid:
            return 401, [{"message": "Session expired or invalid", "errorCode": "INVALID_SESSION_ID"}], {}
        tail = path.split("/query", 1)
        if len(tail) != 2:
            return 404, [{"message": f"no route {path}", "errorCode": "NOT_FOUND"}], {}
        if tail[1].startswith("/"):
            with self.lock:
                rest = self._locators.pop(tail[1][1:], None)
            if rest is None:
                return 400, [{"message": "invalid query locator", "errorCode": "INVALID_QUERY_LOCATOR"}], {}
            return 200, self._page(path.split("/query")[0], *rest), {}
        soql = (query.get("q") or [""])[-1]
        return self._query(path, soql)

    def _token(self, body: bytes) -> ANSWER:
        form = {k: v[-1] for k, v in parse_qs(body.decode("utf-8", errors="replace")).items()}
        if form.get("grant_type") != "client_credentials":
            return 400, {"error": "unsupported_grant_type", "error_description": "grant type not supported"}, {}
        if form.get("client_id") != self.client_id or form.get("client_secret") != self.client_secret:
            return 400, {"error": "invalid_client", "error_description": "invalid client credentials"}, {}
        token = "00D" + secrets.token_hex(16)
        with self.lock:
            self.tokens.add(token)
        return 200, {"access_token": token, "instance_url": self.url, "token_type": "Bearer",
                     "issued_at": "1741054447000", "id": f"{self.url}/id/00Dxx0000001gPL/005xx000001SwiU"}, {}

    def _query(self, path: str, soql: str) -> ANSWER:
        with self.lock:
            self.queries.append(soql)
        outer = re.sub(r"\([^()]*\)", "", soql)  # drop subqueries: the outermost FROM names the object
        match = _FROM.search(outer)
        if match is None:
            return 400, [{"message": f"unexpected query {soql!r}", "errorCode": "MALFORMED_QUERY"}], {}
        kind = match.group(1).lower()
        with self.lock:
            if kind in self.records:
                records = copy.deepcopy(self.records[kind])
            elif kind == "contract_line__c":
                records = [copy.deepcopy(line) for c in self.records["contract"]
                           for line in c.get(self.line_relationship, {}).get("records", [])]
            else:
                return 400, [{"message": f"sObject type '{match.group(1)}' is not supported",
                              "errorCode": "INVALID_TYPE"}], {}
        since = _SINCE.search(outer)
        if since:
            floor = aware_instant(since.group(1))
            if floor is None:
                return 400, [{"message": f"bad datetime {since.group(1)!r}", "errorCode": "MALFORMED_QUERY"}], {}
            records = [r for r in records if (aware_instant(r.get("LastModifiedDate")) or floor) > floor]
        limit = _LIMIT.search(outer)
        if limit:
            records = records[:int(limit.group(1))]
        return 200, self._page(path.split("/query")[0], records, len(records)), {}

    def _page(self, base: str, records: list[dict[str, Any]], total: int) -> dict[str, Any]:
        """One batch; `totalSize` is the whole query's, as Salesforce answers on every page."""
        chunk, rest = records[:self.batch_size], records[self.batch_size:]
        page: dict[str, Any] = {"totalSize": total, "done": not rest, "records": chunk}
        if rest:
            locator = f"01g{secrets.token_hex(6)}-{total - len(rest)}"
            with self.lock:
                self._locators[locator] = (rest, total)
            page["nextRecordsUrl"] = f"{base}/query/{locator}"
        return page
