"""A loopback peer in front of localstripe: forwards every request, keeps a log of what
reached the provider, and can lose the next request before it arrives or its answer after
the provider acted (a network cut or a crash on either side of the call)."""

from __future__ import annotations

import requests

from connectors.fake_http import ANSWER, LocalServer


class StripeProxy(LocalServer):
    def __init__(self, upstream: str) -> None:
        super().__init__()
        self.upstream = upstream.rstrip("/")
        self.seen: list[tuple[str, str]] = []  # (method, path) that reached the provider
        self._lose_requests = 0
        self._lose_answers = 0
        self.ignore_idempotency_keys = False  # a provider that ignores them: the header is dropped

    def lose_next_request(self, times: int = 1) -> None:
        """The next requests never reach the provider (502, as a cut connection)."""
        self._lose_requests += times

    def lose_next_answer(self, times: int = 1) -> None:
        """The next requests reach the provider, but their answers are lost (502)."""
        self._lose_answers += times

    def charges(self) -> int:
        """PaymentIntents created at the provider through this proxy."""
        return sum(1 for verb, path in self.seen if verb == "POST" and path == "/v1/payment_intents")

    def paths(self, method: str | None = None) -> list[str]:
        return [path for verb, path in self.seen if method is None or verb == method]

    def answer(self, method, path, query, headers, body) -> ANSWER:
        with self.lock:
            lose_request = self._lose_requests > 0
            self._lose_requests -= lose_request
        if lose_request:
            return 502, {"error": {"type": "api_error", "message": "connection cut before the provider"}}, {}
        dropped = {"host", "content-length", "connection"}
        if self.ignore_idempotency_keys:
            dropped.add("idempotency-key")
        forwarded = {k: v for k, v in headers.items() if k.lower() not in dropped}
        url = f"{self.upstream}{path}"
        reply = requests.request(method, url, params={k: v for k, v in query.items()}, data=body or None,
                                 headers=forwarded, timeout=30)
        with self.lock:
            self.seen.append((method, path))
            lose_answer = self._lose_answers > 0
            self._lose_answers -= lose_answer
        if lose_answer:
            return 502, {"error": {"type": "api_error", "message": "answer lost after the provider acted"}}, {}
        return reply.status_code, reply.content, {"Content-Type": reply.headers.get("Content-Type", "application/json")}
