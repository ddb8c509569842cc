"""Closing findings (billing-rules section 10): the one function behind `vigil findings
resolve` and the console's Resolve buttons, so both have exactly the same effect.

A review is written to billing.finding_reviews (read live by billing when it issues, and by
dbt on its next build), dated by the business clock, and recorded in the audit log with the
finding's state before and after, in one transaction."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime

from vigil import clock, db
from vigil_app import audit

OUTCOMES = ("excluded", "billed_as_is", "corrected")
MAX_NOTE_LENGTH = 2000


class ReviewRefused(ValueError):
    """Nothing was recorded; the message says why (an unknown finding, a bad outcome, no note)."""


@dataclass(frozen=True)
class Resolved:
    finding_id: str
    outcome: str
    reviewed_on: date
    before: dict
    after: dict


def _current(cur, finding_ids: list[str]) -> dict[str, dict]:
    cur.execute(
        """select f.finding_id, f.type, coalesce(r.status, 'open'), r.note, r.reviewed_by, r.reviewed_on
           from marts.fct_findings f left join billing.finding_reviews r using (finding_id)
           where f.finding_id = any(%s)""",
        (finding_ids,),
    )
    return {row[0]: {"type": row[1], "status": row[2], "review_note": row[3], "reviewed_by": row[4],
                     "reviewed_on": row[5].isoformat() if row[5] else None} for row in cur.fetchall()}


def resolve(conn, finding_ids: list[str], outcome: str, note: str, by: str, via: str) -> list[Resolved]:
    """Close every finding of `finding_ids` as `outcome`, or none of them."""
    finding_ids = list(dict.fromkeys(finding_ids))
    note = (note or "").strip()
    if outcome not in OUTCOMES:
        raise ReviewRefused(f"{outcome!r} is not an outcome ({', '.join(OUTCOMES)})")
    if not note:
        raise ReviewRefused("a note is required: say why")
    if len(note) > MAX_NOTE_LENGTH:
        raise ReviewRefused(f"the note has more than {MAX_NOTE_LENGTH} characters")
    if not finding_ids:
        raise ReviewRefused("no finding chosen")
    if not by.strip():
        raise ReviewRefused("the reviewer's name is required")
    today = clock.read_clock(conn).today(datetime.now(UTC))
    done = []
    with db.atomic(conn) as cur:
        # One reviewer at a time per finding: a second one sees the first's decision as `before`.
        cur.execute("select pg_advisory_xact_lock(hashtext('vigil.finding_reviews'))")
        current = _current(cur, finding_ids)
        unknown = [finding_id for finding_id in finding_ids if finding_id not in current]
        if unknown:
            more = f" (and {len(unknown) - 1} more)" if unknown[1:] else ""
            raise ReviewRefused(f"no finding {unknown[0]!r}{more}")
        for finding_id in finding_ids:
            cur.execute(
                """insert into billing.finding_reviews (finding_id, status, note, reviewed_by, reviewed_on)
                   values (%s, %s, %s, %s, %s)
                   on conflict (finding_id) do update set status = excluded.status, note = excluded.note,
                       reviewed_by = excluded.reviewed_by, reviewed_on = excluded.reviewed_on, reviewed_at = now()""",
                (finding_id, outcome, note, by, today),
            )
            before = current[finding_id]
            after = {**before, "status": outcome, "review_note": note, "reviewed_by": by,
                     "reviewed_on": today.isoformat()}
            audit.record(cur, actor=by, via=via, action="resolve finding", subject=finding_id, before=before,
                         after=after, business_date=today)
            done.append(Resolved(finding_id, outcome, today, before, after))
    return done
