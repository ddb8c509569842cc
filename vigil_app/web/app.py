"""The ASGI application of `vigil serve` (interfaces.md section 7). Each part brings its own
routes: the client portal (portal/), the finance console (console/) and the provider
webhooks (webhooks/); this module only assembles them with the static assets, the health
probe and the headers every answer carries."""

from __future__ import annotations

from pathlib import Path

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles
from starlette.types import ASGIApp, Receive, Scope, Send

from vigil import db
from vigil_app.web.pages import SECURITY_HEADERS


class SecurityHeaders:
    """Adds the headers of vigil_app/web/pages.py to every HTTP answer."""

    def __init__(self, app: ASGIApp):
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def with_headers(message):
            if message["type"] == "http.response.start":
                present = {name.lower() for name, _ in message.get("headers", [])}
                extra = [(k.lower().encode(), v.encode()) for k, v in SECURITY_HEADERS.items()
                         if k.lower().encode() not in present]
                message = {**message, "headers": [*message.get("headers", []), *extra]}
            await send(message)

        await self.app(scope, receive, with_headers)


async def healthz(request: Request) -> Response:
    """200 when the database answers, 503 otherwise."""
    try:
        with db.transaction() as conn, conn.cursor() as cur:
            cur.execute("select 1")
    except Exception:  # noqa: BLE001 - any failure to reach the database is "unhealthy"
        return PlainTextResponse("database unreachable", status_code=503)
    return PlainTextResponse("ok")


def create_app() -> Starlette:
    from vigil_app.web.console.routes import routes as console_routes
    from vigil_app.web.portal.routes import routes as portal_routes
    from vigil_app.web.webhooks.routes import routes as webhook_routes

    routes = [
        Route("/healthz", healthz),
        Mount("/static", app=StaticFiles(directory=Path(__file__).parent / "static"), name="static"),
        Mount("/portal", routes=portal_routes),
        Mount("/console", routes=console_routes),
        Mount("/webhooks", routes=webhook_routes),
    ]
    return Starlette(routes=routes, middleware=[Middleware(SecurityHeaders)])
