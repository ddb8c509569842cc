"""Sign-in and sign-out (vigil_app/web/console/session.py says how sessions and limits work)."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from vigil import db
from vigil_app import accounts
from vigil_app.web import csrf
from vigil_app.web.console import session as sessions
from vigil_app.web.pages import forbidden, render

FORM = "sign-in"
HOME = "/console/findings"


def _safe_next(target: str | None) -> str:
    """Only a console path: never another site after signing in."""
    if target and target.startswith("/console/") and not target.startswith("//") and "\\" not in target:
        return target
    return HOME


def _form(request: Request, *, error: str | None = None, status_code: int = 200, name: str = "") -> Response:
    binding, new = sessions.pre_session_binding(request)
    response = render("console/sign_in.html.j2", status_code=status_code, error=error, name=name,
                      next=_safe_next(request.query_params.get("next")), csrf_field=csrf.FIELD,
                      csrf_token=csrf.token(binding, FORM))
    if new:
        sessions.set_pre_session_cookie(response, request, binding)
    return response


async def sign_in_page(request: Request) -> Response:
    return _form(request)


async def sign_in(request: Request) -> Response:
    submitted = await request.form()
    binding = request.cookies.get(sessions.PRE_COOKIE)
    if not binding or not csrf.same_origin(request) or not csrf.valid(binding, FORM, submitted.get(csrf.FIELD)):
        return forbidden("This sign-in form has expired: reload the page and try again.")
    name = str(submitted.get("name") or "").strip()
    password = str(submitted.get("password") or "")
    address = sessions.client_address(request)
    with db.transaction() as conn:
        if sessions.throttled(conn, name, address):
            return _form(request, status_code=429, name=name,
                         error="Too many failed sign-ins: wait 15 minutes, or ask an administrator.")
        user = accounts.authenticate(conn, name, password) if name and password else None
        sessions.record_attempt(conn, name, address, user is not None)
        if user is None:
            return _form(request, status_code=401, name=name, error="Wrong name or password.")
        session_id = sessions.open_session(conn, user, address)
    response = RedirectResponse(_safe_next(str(submitted.get("next") or "")), status_code=303)
    sessions.set_session_cookie(response, request, session_id)
    return response


@sessions.signed_in_post("sign-out")
async def sign_out(request: Request) -> Response:
    with db.transaction() as conn:
        sessions.revoke(conn, request.state.session.session_id)
    response = RedirectResponse("/console/sign-in", status_code=303)
    sessions.clear_session_cookie(response, request)
    return response
