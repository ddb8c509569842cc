"""Console sessions and the guards every console page goes through.

A session is a row of console.sessions (revocable: sign-out, a password or role change);
the browser holds only a signed cookie with the session's random id (HttpOnly,
SameSite=Lax, Secure over https, path /console), and the table keeps only its sha256.
Sessions end after 8 idle hours and 12 hours in all, by the wall clock (security timeouts
are real time, not the business clock).

Sign-in is rate limited in PostgreSQL (console.sign_in_attempts): 5 failures for one account
in 15 minutes (since its last success), or 20 from one client address, refuse further tries
for that account or address until the window has passed, without checking the password.

Every POST needs the CSRF token of its form, bound to the session (the sign-in form: to a
random pre-session cookie), and an Origin, when the browser sends one, of this site; then
the role: `viewer` is refused every change with 403."""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import timedelta
from functools import wraps
from urllib.parse import quote

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from vigil import db, signing
from vigil_app.accounts import User
from vigil_app.web import csrf
from vigil_app.web.pages import forbidden

COOKIE = "vigil_console"
PRE_COOKIE = "vigil_console_pre"
PATH = "/console"
PURPOSE = "console-session"
IDLE = timedelta(hours=8)
LIFETIME = timedelta(hours=12)
WINDOW = timedelta(minutes=15)
ACCOUNT_FAILURES = 5
ADDRESS_FAILURES = 20

Handler = Callable[[Request], Awaitable[Response]]


@dataclass(frozen=True)
class Session:
    session_id: str
    user: User


def _hash(session_id: str) -> str:
    return hashlib.sha256(session_id.encode()).hexdigest()


def client_address(request: Request) -> str:
    return request.client.host if request.client else "unknown"


def open_session(conn, user: User, address: str) -> str:
    session_id = secrets.token_urlsafe(32)
    with db.atomic(conn) as cur:
        cur.execute(
            """insert into console.sessions (session_hash, user_name, client_address, expires_at)
               values (%s, %s, %s, now() + %s)""",
            (_hash(session_id), user.name, address, LIFETIME),
        )
    return session_id


def revoke(conn, session_id: str) -> None:
    with db.atomic(conn) as cur:
        cur.execute("update console.sessions set revoked_at = now() where session_hash = %s and revoked_at is null",
                    (_hash(session_id),))


def _session_id(request: Request) -> str | None:
    value = request.cookies.get(COOKIE)
    if not value:
        return None
    try:
        return str(signing.unsign(PURPOSE, value)["sid"])
    except (signing.BadToken, KeyError):
        return None


def read_session(conn, request: Request) -> Session | None:
    """The request's live session (and marks it seen), or None."""
    session_id = _session_id(request)
    if session_id is None:
        return None
    with db.atomic(conn) as cur:
        cur.execute(
            """update console.sessions s set last_seen_at = now()
               from console.users u
               where s.session_hash = %s and u.user_name = s.user_name and s.revoked_at is null
                 and s.expires_at > now() and s.last_seen_at > now() - %s
               returning u.user_name, u.role""",
            (_hash(session_id), IDLE),
        )
        found = cur.fetchone()
    return Session(session_id, User(*found)) if found else None


def set_session_cookie(response: Response, request: Request, session_id: str) -> None:
    response.set_cookie(COOKIE, signing.sign(PURPOSE, {"sid": session_id}), max_age=int(LIFETIME.total_seconds()),
                        path=PATH, httponly=True, samesite="lax", secure=request.url.scheme == "https")


def clear_session_cookie(response: Response, request: Request) -> None:
    response.delete_cookie(COOKIE, path=PATH, httponly=True, samesite="lax", secure=request.url.scheme == "https")


def pre_session_binding(request: Request) -> tuple[str, bool]:
    """The random value the sign-in form's CSRF token is bound to, and whether it is new."""
    value = request.cookies.get(PRE_COOKIE)
    if value and len(value) >= 32:
        return value, False
    return secrets.token_urlsafe(32), True


def set_pre_session_cookie(response: Response, request: Request, value: str) -> None:
    response.set_cookie(PRE_COOKIE, value, path=PATH, httponly=True, samesite="lax",
                        secure=request.url.scheme == "https")


# ----------------------------------------------------------------------------- sign-in limits


def throttled(conn, user_name: str, address: str) -> bool:
    with db.atomic(conn) as cur:
        cur.execute(
            """select
                   (select count(*) from console.sign_in_attempts a
                    where a.user_name = %(name)s and not a.succeeded and a.attempted_at > now() - %(window)s
                      and a.attempted_at > coalesce((select max(attempted_at) from console.sign_in_attempts
                                                     where user_name = %(name)s and succeeded), '-infinity')),
                   (select count(*) from console.sign_in_attempts
                    where client_address = %(address)s and not succeeded and attempted_at > now() - %(window)s)""",
            {"name": user_name, "address": address, "window": WINDOW},
        )
        account, from_address = cur.fetchone()
    return account >= ACCOUNT_FAILURES or from_address >= ADDRESS_FAILURES


def record_attempt(conn, user_name: str, address: str, succeeded: bool) -> None:
    with db.atomic(conn) as cur:
        cur.execute("""insert into console.sign_in_attempts (user_name, client_address, succeeded)
                       values (%s, %s, %s)""", (user_name[:200], address, succeeded))


# ----------------------------------------------------------------------------- guards


def _sign_in_redirect(request: Request) -> Response:
    target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    return RedirectResponse(f"{PATH}/sign-in?next={quote(target, safe='')}", status_code=303)


def signed_in(handler: Handler) -> Handler:
    """GET pages: any signed-in user (finance or viewer); others go to the sign-in page."""

    @wraps(handler)
    async def guarded(request: Request) -> Response:
        with db.transaction() as conn:
            session = read_session(conn, request)
        if session is None:
            return _sign_in_redirect(request)
        request.state.session = session
        return await handler(request)

    return guarded


def _posted(form: str, finance_only: bool) -> Callable[[Handler], Handler]:
    def decorate(handler: Handler) -> Handler:
        @wraps(handler)
        async def guarded(request: Request) -> Response:
            with db.transaction() as conn:
                session = read_session(conn, request)
            if session is None:
                return forbidden("You are not signed in (or your session has ended): sign in again.")
            submitted = await request.form()
            if not csrf.same_origin(request) or not csrf.valid(session.session_id, form, submitted.get(csrf.FIELD)):
                return forbidden("This form has expired or did not come from the console: reload the page and "
                                 "try again.")
            if finance_only and not session.user.may_change:
                return forbidden(f"{session.user.name} has the role {session.user.role}: it may read everything "
                                 "and change nothing.")
            request.state.session = session
            request.state.form = submitted
            return await handler(request)

        return guarded

    return decorate


def change(form: str) -> Callable[[Handler], Handler]:
    """POSTs that change something (or prepare a change): a session, this form's CSRF token, a
    same-site origin, and the finance role; anything else is refused with 403 before the
    handler runs."""
    return _posted(form, finance_only=True)


def signed_in_post(form: str) -> Callable[[Handler], Handler]:
    """POSTs any signed-in user may make that change no data (sign-out)."""
    return _posted(form, finance_only=False)
