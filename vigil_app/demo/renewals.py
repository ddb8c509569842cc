"""The demo's renewals (issue 11): four 3-month monitoring contracts that end within the
simulated period, added to the demo's contract files, and the clients' answers to their
offers, given through the function the portal's offer page uses and dated by the business
clock, between the demo's two runs.

For a period S..T (default 2026-09-27..2026-10-31), each offered on S (their offer days fell
before the period, so the first day catches them up):

| contract | ends | what happens |
| --- | --- | --- |
| `K-<client>-V4` MON-VIDEO, auto-renew | S + 2 | notice S + 1, renewed S + 3 as `-R1` |
| `K-<client>-V1` MON-STD | T - 7 | sales alert S + 1, accepted S + 4 with the upgrade (next tier) |
| `K-<client>-V2` MON-GOLD | T - 7 | sales alert S + 1, declined S + 4 |
| `K-<client>-V3` MON-STD | T - 7 | sales alert S + 1, no answer: expired T - 6 |

The first run covers S..S + 3, the answers are dated S + 4, the second run covers S + 4..T
(billing then follows the accepted and auto-renewed contracts). A period shorter than 12
days has no room for this and plants nothing."""

from __future__ import annotations

import os
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import yaml

from billing.renewals.decisions import DecisionRefused, decide
from billing.renewals.timeline import add_months
from vigil import clock, db

SHORTEST_PERIOD_DAYS = 12
TERM_MONTHS = 3
# (suffix, plan, amount, auto_renew, answer: (action, option) or None)
PLANTED = (
    ("V1", "MON-STD", "79.00", False, ("accept", "upgrade")),
    ("V2", "MON-GOLD", "89.00", False, ("decline", None)),
    ("V3", "MON-STD", "79.00", False, None),
    ("V4", "MON-VIDEO", "149.00", True, None),
)


@dataclass(frozen=True)
class Answer:
    contract_id: str
    client_id: str
    client_name: str
    action: str
    option: str | None


@dataclass(frozen=True)
class RenewalPlan:
    first_through: date  # the first run's last day
    answers_on: date  # the business day the clients answer; the second run starts with it
    answers: tuple[Answer, ...]


def _contract(contract_id: str, site_id: str, plan: str, amount: str, auto_renew: bool, end: date) -> dict:
    return {"id": contract_id, "start_date": add_months(end + timedelta(days=1), -TERM_MONTHS), "end_date": end,
            "auto_renew": auto_renew, "billing_cycle": "monthly", "issue_lead_days": 5,
            "recurring": [{"code": plan, "category": "monitoring", "site_id": site_id, "amount": amount}]}


def plant(inbox: Path, start: date, end: date) -> RenewalPlan | None:
    """Add the four contracts to the contract files of `inbox` (idempotent: same files, same
    bytes); None when the period is too short."""
    if (end - start).days + 1 < SHORTEST_PERIOD_DAYS:
        return None
    files = sorted((inbox / "contracts").glob("C-*.yaml"))
    answers = []
    for position, (suffix, plan, amount, auto_renew, answer) in enumerate(PLANTED):
        path = files[position % len(files)]
        header, _, body = path.read_text(encoding="utf-8").partition("\n")
        document = yaml.safe_load(body)
        client = document["client"]
        contract_id = f"K-{client['id'][2:]}-{suffix}"
        last_day = start + timedelta(days=2) if auto_renew else end - timedelta(days=7)
        planted = _contract(contract_id, document["sites"][0]["id"], plan, amount, auto_renew, last_day)
        document["contracts"] = [c for c in document["contracts"] if c["id"] != contract_id] + [planted]
        dump = {"sort_keys": False, "allow_unicode": True, "width": 120, "default_flow_style": None}
        path.write_text(header + "\n" + yaml.safe_dump(document, **dump), encoding="utf-8")
        if answer is not None:
            answers.append(Answer(contract_id, client["id"], client["name"], *answer))
    return RenewalPlan(start + timedelta(days=3), start + timedelta(days=4), tuple(answers))


@contextmanager
def _business_day(day: date):
    """The business clock set to `day` (VIGIL_TODAY) while the clients answer."""
    saved = os.environ.get("VIGIL_TODAY")
    os.environ["VIGIL_TODAY"] = day.isoformat()
    try:
        yield
    finally:
        if saved is None:
            os.environ.pop("VIGIL_TODAY", None)
        else:
            os.environ["VIGIL_TODAY"] = saved


def answer_offers(plan: RenewalPlan) -> list[str]:
    """Each planted client answers its offer as on the portal; an offer already answered (a
    second demo) is left as it is. Returns what was recorded."""
    recorded = []
    with _business_day(plan.answers_on):
        conn = db.connect()
        try:
            with conn:
                today = clock.read_clock(conn).today(datetime.now(UTC))
            for answer in plan.answers:
                try:
                    outcome = decide(conn, contract_id=answer.contract_id, client_id=answer.client_id,
                                     action=answer.action, option=answer.option,
                                     decided_by=f"{answer.client_name} (demo client)", today=today)
                except DecisionRefused:
                    continue
                recorded.append(f"{outcome.contract_id} {outcome.decision}"
                                + (f" as {outcome.new_contract_id}" if outcome.new_contract_id else ""))
        finally:
            conn.close()
    return recorded
