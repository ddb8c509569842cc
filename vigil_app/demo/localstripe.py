"""localstripe, the payment provider of VIGIL_PAYMENTS=local (the demo and the tests): one
per VIGIL_HOME, on loopback only (its own entry point listens on every interface), started
on first use and kept for the next command like the embedded server; `vigil stop` stops it.

`python -m vigil_app.demo.localstripe --port N` is the server process itself, with what
Vigil's test mode needs beyond localstripe (localstripe_extension.py)."""

from __future__ import annotations

import argparse
import sys

from vigil import config, services

SERVICE = "localstripe"


def ensure_localstripe() -> str:
    """Start (or reuse) this VIGIL_HOME's localstripe; returns its base URL."""
    try:
        import localstripe  # noqa: F401 - only to say clearly what is missing
    except ImportError:
        raise config.ConfigError("VIGIL_PAYMENTS=local needs localstripe: pip install 'vigil[demo]'") from None
    with services.exclusive(SERVICE):
        service = services.running(SERVICE)
        if service is not None and service.port and services.port_open(service.port):
            return service.url
        if service is not None:  # recorded but not answering: replace it
            services.stop(SERVICE, grace_seconds=5)
        port = services.free_port()
        return services.start(SERVICE, [sys.executable, "-m", __name__, "--port", str(port)], port=port).url


def stop_localstripe() -> bool:
    return services.stop(SERVICE, grace_seconds=5)


def _config_call(method: str, base_url: str, path: str, form: dict | None = None) -> dict:
    """One call to localstripe's test-control routes (`/_config/...`, no key needed)."""
    import requests

    answer = requests.request(method, f"{base_url.rstrip('/')}{path}", data=form or None, timeout=10)
    answer.raise_for_status()
    return answer.json() if answer.content else {}


def forget_everything(base_url: str) -> None:
    """Empty localstripe (objects, idempotency keys): a fresh test account."""
    _config_call("DELETE", base_url, "/_config/data")


def send_webhooks_to(base_url: str, url: str, secret: str, name: str = "vigil") -> None:
    """Deliver localstripe's events to `url`, signed with `secret` like Stripe's."""
    _config_call("POST", base_url, f"/_config/webhooks/{name}", {"url": url, "secret": secret})


def decline_next_charges(base_url: str, declines: int) -> None:
    """The next `declines` charges of pm_card_vigil_declinedThenApproved are declined, the later approved."""
    _config_call("POST", base_url, "/_config/cards/pm_card_vigil_declinedThenApproved", {"declines": str(declines)})


def settle_debit(base_url: str, payment_intent_id: str, outcome: str, failure_code: str | None = None) -> dict:
    """What the bank does, days later, to a processing ACH debit (`succeeded` or `failed`)."""
    form = {"outcome": outcome, **({"failure_code": failure_code} if failure_code else {})}
    return _config_call("POST", base_url, f"/_config/payment_intents/{payment_intent_id}/settle", form)


def main() -> None:
    import logging

    from aiohttp import web
    from localstripe.server import app

    from vigil_app.demo.localstripe_extension import install

    parser = argparse.ArgumentParser(description="localstripe on loopback")
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on (default loopback)")
    parser.add_argument("--port", type=int, required=True, help="port to listen on")
    args = parser.parse_args()
    logging.getLogger("aiohttp.access").setLevel(logging.WARNING)
    install(app)
    web.run_app(app, host=args.host, port=args.port, print=None, access_log=None)


if __name__ == "__main__":
    main()
