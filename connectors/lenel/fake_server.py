"""A local stand-in for OnGuard OpenAccess, for tests and the demo, on
connectors.fake_http.LocalServer (127.0.0.1, ephemeral port).

It checks `?version=1.0`, the `Application-Id` header, the session token from
`POST /authentication`, pages `/logged_events` and `/instances` with `total_pages`
(instance items carry their own `type_name`; the page has none, as PagedInstances in
the OpenAccess client SDK), understands the one filter form the client sends
(`timestamp >= "<ISO>"`), and can answer 429 (with Retry-After) or 503 a given number of
times (LocalServer.fail_next), or expire every session, so retries and
re-authentication are exercised over real HTTP."""

from __future__ import annotations

import json
import math
import re
import secrets
from datetime import datetime
from typing import Any

from connectors.fake_http import ANSWER, LocalServer

BASE_PATH = "/api/access/onguard/openaccess"
_FILTER_RE = re.compile(r'^\s*timestamp\s*(>=|>)\s*"([^"]+)"\s*$', re.IGNORECASE)


class FakeOpenAccess(LocalServer):
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
        super().__init__()

    def expire_sessions(self) -> None:
        """Forget every session token, as an idle timeout on the OnGuard server would."""
        with self.lock:
            self.sessions.clear()

    def add_events(self, events: list[dict[str, Any]]) -> None:
        with self.lock:
            self.events.extend(events)

    @property
    def base_url(self) -> str:
        return f"{self.url}{BASE_PATH}"

    # --- request handling ---------------------------------------------------------------------
    def answer(self, method: str, path: str, query: dict[str, list[str]], headers: dict[str, str],
               body: bytes) -> ANSWER:
        return self._answer(method, path, {k: v[-1] for k, v in query.items()}, headers, body)

    def _answer(self, method: str, url_path: str, query: dict[str, str], lowered: dict[str, str], body: bytes):
        path = url_path[len(BASE_PATH):] if url_path.startswith(BASE_PATH) else None
        if path is None:
            return 404, _error("openaccess.general.notfound", "not found"), {}
        if query.get("version") != "1.0":
            return 400, _error("openaccess.general.invalidversion", "version=1.0 is required"), {}
        if lowered.get("application-id") != self.application_id:
            return 400, _error("openaccess.general.invalidapplicationid", "invalid Application-Id"), {}
        if path == "/authentication" and method == "POST":
            return self._authenticate(body)
        with self.lock:
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
        with self.lock:
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
        with self.lock:
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
        with self.lock:
            items = [{"type_name": _type_name(type_name), "property_value_map": dict(p)}
                     for p in self.instances[type_name.lower()]]
        page = self._page(items, *paging)
        page["version"] = "1.0"
        return 200, page, {}

    def _page(self, items: list[dict[str, Any]], number: int, size: int) -> dict[str, Any]:
        total = len(items)
        chunk = items[(number - 1) * size: number * size]
        if self.vary_key_case and number % 2 == 0:
            chunk = [_upper_keys(i) for i in chunk]
        return {"page_number": number, "page_size": size, "total_pages": max(1, math.ceil(total / size)),
                "total_items": total, "count": len(chunk), "item_list": chunk}


def _type_name(name: str) -> str:
    return {"lnl_reader": "Lnl_Reader", "lnl_panel": "Lnl_Panel"}.get(name.lower(), name)


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
