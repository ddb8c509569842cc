"""localstripe, the payment provider of VIGIL_PAYMENTS=local (the demo and the tests): one
per VIGIL_HOME, on loopback only (its own entry point listens on every interface), started
on first use and kept for the next command like the embedded server; `vigil stop` stops it.

`python -m vigil_app.demo.localstripe --port N` is the server process itself."""

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


def main() -> None:
    import logging

    from aiohttp import web
    from localstripe.server import app

    parser = argparse.ArgumentParser(description="localstripe on loopback")
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on (default loopback)")
    parser.add_argument("--port", type=int, required=True, help="port to listen on")
    args = parser.parse_args()
    logging.getLogger("aiohttp.access").setLevel(logging.WARNING)
    web.run_app(app, host=args.host, port=args.port, print=None, access_log=None)


if __name__ == "__main__":
    main()
