"""Shared HTTP plumbing for the vendor API clients (Genetec, Milestone, Avigilon).

`RetryingHttp` wraps one `requests.Session`: every call has a timeout, and 429 (honouring
Retry-After), 5xx and connection errors are retried with exponential backoff plus jitter,
so a busy vendor server slows a pull down instead of failing it. What cannot be retried
raises `HttpError` naming the method, URL and status, so an operator can act on the log
line alone.

`Watermark` is the incremental cursor the clients persist in raw.api_cursors. Alarms
change after they are first seen (acknowledged, closed), so a plain "newest timestamp"
cursor would skip an alarm closed after the pull that saw it open: the query restarts at
the oldest still-open alarm while `high_water` (plus the ids seen at that instant) keeps
what was already returned from being returned again."""

from __future__ import annotations

import json
import random
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import requests

RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})


class HttpError(RuntimeError):
    """A request that failed for good: carries the method, URL, status and a body excerpt."""

    def __init__(self, method: str, url: str, status: int | None, detail: str):
        self.method, self.url, self.status, self.detail = method, url, status, detail
        what = f"HTTP {status}" if status is not None else "no answer"
        super().__init__(f"{method} {url} failed: {what}: {detail}".rstrip(": "))


class AuthError(HttpError):
    """Credentials or session refused (401/403): retrying will not help."""


@dataclass
class RetryingHttp:
    """Retries are for transient trouble only; 4xx other than 429 is returned to (or raised
    for) the caller at once. `sleep` and `rng` are injectable so tests run instantly."""

    timeout: float = 10.0
    max_attempts: int = 5
    backoff: float = 0.5
    max_backoff: float = 30.0
    session: requests.Session = field(default_factory=requests.Session)
    sleep: Callable[[float], None] = time.sleep
    rng: random.Random = field(default_factory=random.Random)
    attempts_log: list[tuple[str, str, int | None]] = field(default_factory=list)

    def request(self, method: str, url: str, *, raise_for_status: bool = True, **kwargs: Any) -> requests.Response:
        """Send with retries. With `raise_for_status`, a final 4xx/5xx raises HttpError
        (AuthError for 401/403); without it the final response is returned as is."""
        kwargs.setdefault("timeout", self.timeout)
        last_detail, last_status = "", None
        for attempt in range(1, self.max_attempts + 1):
            try:
                resp = self.session.request(method, url, **kwargs)
            except (requests.ConnectionError, requests.Timeout) as exc:
                self.attempts_log.append((method, url, None))
                last_detail, last_status, resp = f"{type(exc).__name__}: {exc}", None, None
            else:
                self.attempts_log.append((method, url, resp.status_code))
                if resp.status_code not in RETRY_STATUSES:
                    if raise_for_status:
                        raise_for(resp, method)
                    return resp
                last_detail, last_status = body_excerpt(resp), resp.status_code
            if attempt == self.max_attempts:
                break
            self.sleep(self.delay(resp, attempt))
        raise HttpError(method, _redact(url), last_status,
                        f"gave up after {self.max_attempts} attempts: {last_detail}")

    def delay(self, resp: requests.Response | None, attempt: int) -> float:
        """Retry-After when the server gives one (seconds or HTTP date), else exponential
        backoff with full jitter, capped at `max_backoff`."""
        if resp is not None and resp.headers.get("Retry-After"):
            wait = retry_after_seconds(resp.headers["Retry-After"])
            if wait is not None:
                return min(wait, self.max_backoff)
        ceiling = min(self.backoff * 2 ** (attempt - 1), self.max_backoff)
        return ceiling / 2 + self.rng.uniform(0, ceiling / 2)


def retry_after_seconds(value: str) -> float | None:
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - datetime.now(UTC)).total_seconds())


def raise_for(resp: requests.Response, method: str) -> None:
    if resp.status_code < 400:
        return
    cls = AuthError if resp.status_code in (401, 403) else HttpError
    raise cls(method, _redact(resp.url), resp.status_code, body_excerpt(resp))


def body_excerpt(resp: requests.Response, limit: int = 300) -> str:
    text = (resp.text or "").strip().replace("\n", " ")
    return text[:limit]


def json_body(resp: requests.Response, method: str = "GET") -> Any:
    try:
        return resp.json()
    except ValueError:
        raise HttpError(method, _redact(resp.url), resp.status_code,
                        f"answer is not JSON: {body_excerpt(resp, 200)!r}") from None


def _redact(url: str) -> str:
    """Session tokens travel in query strings for some vendors; keep them out of errors."""
    if "session=" not in url:
        return url
    parts = urlsplit(url)
    query = [(k, "***" if k == "session" else v) for k, v in parse_qsl(parts.query)]
    return urlunsplit(parts._replace(query=urlencode(query)))


# --- incremental cursor ---------------------------------------------------------------------


def iso_ms(at: datetime) -> str:
    return at.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _parse(text: str | None) -> datetime | None:
    return datetime.fromisoformat(text.replace("Z", "+00:00")) if text else None


@dataclass(frozen=True)
class Watermark:
    """`resume_from`: where the next query starts (inclusive). `high_water`: the newest record
    time already returned; `seen`: ids returned at exactly that instant."""

    resume_from: datetime | None = None
    high_water: datetime | None = None
    seen: frozenset[str] = frozenset()

    @classmethod
    def decode(cls, cursor: str | None) -> Watermark:
        if not cursor:
            return cls()
        try:
            data = json.loads(cursor)
            return cls(_parse(data.get("from")), _parse(data.get("hw")), frozenset(data.get("ids") or ()))
        except (ValueError, AttributeError, TypeError):
            raise ValueError(f"unreadable cursor {cursor!r}: expected the JSON this client writes") from None

    def encode(self) -> str:
        return json.dumps({"from": iso_ms(self.resume_from) if self.resume_from else None,
                           "hw": iso_ms(self.high_water) if self.high_water else None,
                           "ids": sorted(self.seen)}, separators=(",", ":"))

    def is_new(self, at: datetime | None, record_id: str | None) -> bool:
        """Records without a readable time are always passed on (they will be quarantined;
        the store keeps one quarantine row per content)."""
        if at is None or self.high_water is None:
            return True
        return at > self.high_water or (at == self.high_water and record_id not in self.seen)

    def advance(self, records: Iterable[tuple[datetime | None, str | None]], open_since: Iterable[datetime] = (),
                max_open_lookback: timedelta = timedelta(days=7)) -> Watermark:
        """The cursor after a pull: the newest record time (and its ids), and a resume point
        held back to the oldest open alarm, but no further than `max_open_lookback` before
        the high water so an alarm nobody closes does not pin the cursor forever."""
        high, seen = self.high_water, set(self.seen)
        for at, rid in records:
            if at is None:
                continue
            if high is None or at > high:
                high, seen = at, set()
            if at == high and rid:
                seen.add(rid)
        if high is None:
            return self
        floor = high - max_open_lookback
        opens = [t for t in open_since if t >= floor]
        resume = min([high, *opens])
        return Watermark(resume, high, frozenset(seen))


def query_items(params: Mapping[str, Any]) -> dict[str, str]:
    return {k: str(v) for k, v in params.items() if v is not None}
