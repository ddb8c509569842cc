"""Rendering shared by every part of the web application: one Jinja2 environment over
vigil_app/web/templates (autoescaped) and the headers every answer carries."""

from __future__ import annotations

from pathlib import Path

import jinja2
from starlette.responses import HTMLResponse

TEMPLATES = Path(__file__).parent / "templates"

environment = jinja2.Environment(
    loader=jinja2.ChoiceLoader([jinja2.FileSystemLoader(TEMPLATES), jinja2.PackageLoader("billing", "templates")]),
    autoescape=jinja2.select_autoescape(["html", "j2"]),
    undefined=jinja2.StrictUndefined,
)

SECURITY_HEADERS = {
    # Everything is served by the app; links carry tokens, so they never leak as a referrer.
    "Content-Security-Policy": "default-src 'self'; img-src 'self' data:; style-src 'self' 'unsafe-inline'; "
    "form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
    "Referrer-Policy": "no-referrer",
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Cache-Control": "no-store",
}


def render(template: str, status_code: int = 200, **context) -> HTMLResponse:
    return HTMLResponse(environment.get_template(template).render(**context), status_code=status_code)


def forbidden(message: str = "This link is not valid.") -> HTMLResponse:
    """403 that shows nothing of any client."""
    return render("forbidden.html.j2", status_code=403, message=message)
