"""The audit log (console.audit_log): every change made through the console or the command
line, with who, the business date and the wall clock, what, and the state before and after.
Written in the same transaction as the change, so a change is never without its entry."""

from __future__ import annotations

import json
from datetime import date

import psycopg2.extras

VIA_CONSOLE = "console"
VIA_COMMAND_LINE = "command line"


def record(cur, *, actor: str, via: str, action: str, subject: str, before: dict | None, after: dict | None,
           business_date: date) -> None:
    cur.execute(
        """insert into console.audit_log (actor, via, action, subject, before, after, business_date)
           values (%s, %s, %s, %s, %s, %s, %s)""",
        (actor, via, action, subject, _json(before), _json(after), business_date),
    )


def _json(state: dict | None) -> str | None:
    return None if state is None else json.dumps(state, default=str, sort_keys=True)


def entries(conn, limit: int = 200, actor: str | None = None, action: str | None = None,
            subject: str | None = None) -> list[dict]:
    """The newest entries first."""
    with conn.cursor(cursor_factory=psycopg2.extras.RealDictCursor) as cur:
        cur.execute(
            """select audit_id, actor, via, action, subject, before, after, business_date,
                      recorded_at at time zone 'UTC' as recorded_at
               from console.audit_log
               where (%(actor)s::text is null or actor = %(actor)s)
                 and (%(action)s::text is null or action = %(action)s)
                 and (%(subject)s::text is null or subject = %(subject)s)
               order by audit_id desc limit %(limit)s""",
            {"actor": actor, "action": action, "subject": subject, "limit": limit},
        )
        return [dict(row) for row in cur.fetchall()]
