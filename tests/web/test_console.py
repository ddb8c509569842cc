"""The finance console in a real browser (Playwright driving Debian's chromium), on one story:
the inbox of tests/e2e/test_findings_review.py (every finding type, two held invoices) run
once through `vigil run` in-process, two users added with `vigil users add`, the console
served by uvicorn; then sign-in, the queue and its filters, evidence down to the raw source
line, a viewer refused, POSTs without CSRF refused, the KPI charts, and last the resolutions
(one finding, then the rest in bulk) and one more `vigil run` that releases the held invoices.

Screenshots go to the test's temporary folder; with VIGIL_DOCS_SCREENSHOTS=docs/images they
are also copied there for docs/console.md (docs/console.md says when to do that)."""

from __future__ import annotations

import io
import json
import os
import re
import shutil
import sys
from pathlib import Path

import pytest

from tests.browser import LiveServer, browser, screenshot  # noqa: F401 - fixtures
from tests.e2e.cli import export, vigil
from tests.e2e.test_findings_review import THROUGH, generate_inbox

pytestmark = [pytest.mark.e2e, pytest.mark.integration]

TODAY = "2026-11-10"
FINANCE = ("ana", "ana-password-2026")
VIEWER = ("vic", "vic-password-2026")
BLOCKING_TYPES = {"duplicate_record", "overlapping_shift", "missing_checkout", "bad_interval", "missing_rate",
                  "ambiguous_contract", "service_outside_contract"}


def _add_user(name: str, role: str, password: str) -> str:
    stdin = sys.stdin
    sys.stdin = io.StringIO(password + "\n")
    try:
        return vigil("users", "add", name, "--role", role)
    finally:
        sys.stdin = stdin


@pytest.fixture(scope="module")
def story(warehouse, tmp_path_factory):
    """One run of the inbox, two users, the console served; screenshots copied for the docs on request."""
    from vigil_app.web.app import create_app

    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("VIGIL_TODAY", TODAY)
        patch.setenv("VIGIL_DAGSTER_URL", "http://dagster.example:3000")
        inbox = tmp_path_factory.mktemp("inbox")
        generate_inbox(inbox)
        out = tmp_path_factory.mktemp("out")
        run_args = ("run", "--inbox", inbox, "--from", "2026-08-25", "--through", THROUGH, "--json")
        vigil(*run_args)
        assert "created with role finance" in _add_user(FINANCE[0], "finance", FINANCE[1])
        assert "created with role viewer" in _add_user(VIEWER[0], "viewer", VIEWER[1])
        shots = tmp_path_factory.mktemp("screenshots")
        with LiveServer(create_app()) as server:
            yield {"url": server.url, "run_args": run_args, "out": out, "shots": shots}
        docs = os.environ.get("VIGIL_DOCS_SCREENSHOTS")
        if docs:
            Path(docs).mkdir(parents=True, exist_ok=True)
            for png in sorted(shots.glob("console-*.png")):
                shutil.copy(png, Path(docs) / png.name)


@pytest.fixture
def context(browser):  # noqa: F811
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    yield context
    context.close()


def sign_in(context, url: str, user: tuple[str, str]):
    page = context.new_page()
    page.goto(f"{url}/console/")
    page.fill("input[name=name]", user[0])
    page.fill("input[name=password]", user[1])
    page.click("button[type=submit]")
    page.wait_for_url("**/console/findings")
    return page


def _queue_size(page) -> tuple[int, int]:
    rows, findings = re.findall(r"\d+", page.locator("#queue-size").inner_text())[:2]
    return int(rows), int(findings)


def _reviews(conn) -> list[tuple]:
    with conn.cursor() as cur:
        cur.execute("select finding_id, status, reviewed_by, reviewed_on from billing.finding_reviews order by 1")
        rows = cur.fetchall()
    conn.commit()
    return rows


def test_sign_in_refuses_a_wrong_password_and_sets_a_safe_cookie(story, context):
    page = context.new_page()
    page.goto(f"{story['url']}/console/findings")
    assert "/console/sign-in" in page.url
    page.fill("input[name=name]", FINANCE[0])
    page.fill("input[name=password]", "not-the-password")
    page.click("button[type=submit]")
    assert "Wrong name or password" in page.locator(".error").inner_text()
    assert not [c for c in context.cookies() if c["name"] == "vigil_console"]
    screenshot(page, story["shots"], "console-sign-in")
    page.fill("input[name=password]", FINANCE[1])
    page.click("button[type=submit]")
    page.wait_for_url("**/console/findings")
    [cookie] = [c for c in context.cookies() if c["name"] == "vigil_console"]
    assert cookie["httpOnly"] and cookie["sameSite"] == "Lax" and cookie["path"] == "/console"
    assert not cookie["secure"]  # plain http here; over https it is Secure (test_sessions.py)
    assert "ana (finance)" in page.locator("header").inner_text()


def test_queue_groups_findings_and_filters(story, context):
    page = sign_in(context, story["url"], FINANCE)
    rows, findings = _queue_size(page)
    assert findings == 20  # every open finding of the inbox (18 types, duplicate_record three times)
    assert rows == findings  # no two findings of this inbox share a guard-week or a site-week
    first = page.locator("tr.group").first.inner_text()
    assert "blocking" in first
    held = page.locator("tr.group", has_text="held C-A").count()
    assert held == 7  # C-A's blocking findings all hold its week-6 invoice
    screenshot(page, story["shots"], "console-findings")
    page.select_option("select[name=type]", "duplicate_record")
    page.click("form.filters button[type=submit]")
    assert _queue_size(page) == (3, 3)
    page.select_option("select[name=type]", "")
    page.select_option("select[name=severity]", "blocking")
    page.select_option("select[name=client]", "C-B")
    page.click("form.filters button[type=submit]")
    assert _queue_size(page) == (2, 2)
    assert {t.strip() for t in page.locator("tr.group td:nth-child(3)").all_inner_texts()} == {
        "ambiguous_contract", "service_outside_contract"}
    page.goto(f"{story['url']}/console/findings?from=2026-11-04&to=2026-11-04&sort=type")
    types = [t.strip() for t in page.locator("tr.group td:nth-child(3)").all_inner_texts()]
    assert types == sorted(types) and set(types) == {"hours_spike", "overlapping_shift", "schedule_missing"}


def test_evidence_links_to_the_record_and_its_raw_source_line(story, context):
    page = sign_in(context, story["url"], FINANCE)
    page.goto(f"{story['url']}/console/findings?type=missing_checkout")
    page.locator("tr.group a").first.click()
    page.locator("a", has_text="Shift timesheets:SH-OPEN").click()
    assert page.locator("h1").inner_text() == "missing_checkout"
    version = page.locator(".version").first.inner_text()
    assert re.search(r"timesheets/a-main\.csv line \d+", version)
    assert page.locator("pre.raw").first.inner_text().startswith("SH-OPEN,G-11,S-A2,unarmed,")
    assert "dagster.example:3000/assets/marts/fct_findings" in page.content()
    screenshot(page, story["shots"], "console-finding")
    page.locator("a", has_text="timesheets:SH-OPEN").first.click()
    assert page.locator("h1").inner_text() == "Shift timesheets:SH-OPEN"
    assert "missing_checkout" in page.locator("ul").last.inner_text()


def test_viewer_reads_everything_and_every_change_is_refused(story, context, conn):
    from vigil import signing
    from vigil_app.web import csrf

    page = sign_in(context, story["url"], VIEWER)
    assert _queue_size(page)[1] == 20
    assert page.locator("input[name=group]").count() == 0
    assert "changes nothing" in page.content()
    for path in ("/console/held", "/console/invoices", "/console/payments", "/console/kpis", "/console/audit"):
        assert page.goto(story["url"] + path).status == 200, path
    [cookie] = [c for c in context.cookies() if c["name"] == "vigil_console"]
    session_id = signing.unsign("console-session", cookie["value"])["sid"]
    finding_id = _open_blocking(conn)[0]
    before = _reviews(conn)
    for form in ("preview", "resolve"):
        answer = page.request.post(f"{story['url']}/console/findings/{form}", form={
            csrf.FIELD: csrf.token(session_id, form), "finding": finding_id, "outcome": "excluded", "note": "x"})
        assert answer.status == 403 and "may read everything and change nothing" in answer.text()
    assert _reviews(conn) == before


def test_a_post_without_a_valid_csrf_token_is_refused(story, context, conn):
    page = sign_in(context, story["url"], FINANCE)
    finding_id = _open_blocking(conn)[0]
    before = _reviews(conn)
    form = {"finding": finding_id, "outcome": "excluded", "note": "no token"}
    assert page.request.post(f"{story['url']}/console/findings/resolve", form=form).status == 403
    preview_token = page.locator("input[name=csrf_token]").nth(1).get_attribute("value")  # the queue's preview form
    answer = page.request.post(f"{story['url']}/console/findings/resolve", form={**form, "csrf_token": preview_token})
    assert answer.status == 403  # a token of another form
    assert _reviews(conn) == before


def test_kpi_page_draws_its_charts(story, context):
    page = sign_in(context, story["url"], FINANCE)
    page.goto(f"{story['url']}/console/kpis")
    charts = page.locator("figure.chart svg")
    assert charts.count() == 7
    assert page.locator("#chart-billing_accuracy rect.bar").count() >= 1
    assert "100.0%" in page.locator("#chart-billing_accuracy").inner_text()
    box = charts.first.bounding_box()
    assert box["width"] > 400 and box["height"] > 150
    screenshot(page, story["shots"], "console-kpis")


def test_dunning_queue_shows_what_the_collections_calendar_does_next(story, context, conn):
    """The story leaves August and September invoices in collections and October's overdue;
    from the first day the run has not processed (TODAY) the page shows the calendar's next
    step: nothing for those in collections (a person decides), the final reminder on D+10 for
    the overdue ones (no auto-pay charges here: C-B has no payment method)."""
    from datetime import date, timedelta

    page = sign_in(context, story["url"], FINANCE)
    page.goto(story["url"] + "/console/payments")
    rows = {row.locator("td").first.inner_text(): row.locator("td").last.inner_text()
            for row in page.locator("table.dunning tr").all()[1:]}
    with conn.cursor() as cur:
        cur.execute("select invoice_number, due_date, status from billing.invoices where invoice_number = any(%s)",
                    (list(rows),))
        shown = cur.fetchall()
    conn.rollback()
    today = date.fromisoformat(TODAY)
    expected = {}
    for number, due_date, status in shown:
        if status == "in_collections":
            expected[number] = "nothing scheduled: a person decides"
        elif status == "issued" and due_date < today <= due_date + timedelta(days=10):
            expected[number] = f"reminder final on {(due_date + timedelta(days=10)).isoformat()}"
    assert {status for _, _, status in shown} == {"in_collections", "issued"}
    assert rows == expected


def _open_blocking(conn) -> list[str]:
    with conn.cursor() as cur:
        cur.execute("""select finding_id from marts.fct_findings f
                       where severity = 'blocking' and not exists (
                           select 1 from billing.finding_reviews r where r.finding_id = f.finding_id)
                       order by type, finding_id""")
        found = [row[0] for row in cur.fetchall()]
    conn.commit()
    return found


def test_resolve_one_then_the_rest_in_bulk_and_the_next_run_releases_the_held_invoices(story, context, conn):
    url = story["url"]
    page = sign_in(context, url, FINANCE)
    page.goto(f"{url}/console/held")
    assert page.locator("tr.held-invoice").count() == 2
    screenshot(page, story["shots"], "console-held")

    # one finding: C-B's invoice stays held by the other one
    page.goto(f"{url}/console/findings?type=service_outside_contract")
    page.locator("tr.group a").first.click()
    page.select_option("select[name=outcome]", "excluded")
    page.fill("input[name=note]", "service after the contract ended")
    page.click("fieldset.resolve button")
    effect = page.locator("table.effects").inner_text()
    assert "still held by 1 other finding(s)" in effect
    screenshot(page, story["shots"], "console-preview-one")
    page.locator("button.primary").click()
    assert "1 finding(s) resolved as excluded" in page.locator(".notice").inner_text()

    # the rest in bulk: every blocking finding shown
    page.goto(f"{url}/console/findings?severity=blocking")
    assert _queue_size(page) == (8, 8)
    page.check("input[name=all_shown]")
    page.select_option("fieldset.resolve select[name=outcome]", "excluded")
    page.fill("fieldset.resolve input[name=note]", "reviewed with the site managers")
    page.click("fieldset.resolve button")
    assert page.locator("h1").inner_text() == "Resolve 8 finding(s) as excluded?"
    effects = page.locator("table.effects tr").all_inner_texts()[1:]
    assert len(effects) == 2 and all("released" in row for row in effects)
    screenshot(page, story["shots"], "console-preview-bulk")
    page.locator("button.primary").click()
    assert "8 finding(s) resolved as excluded" in page.locator(".notice").inner_text()
    assert _queue_size(page) == (0, 0)

    # exactly what `vigil findings resolve` records, dated by the business clock
    reviews = _reviews(conn)
    assert len(reviews) == 9
    assert {(status, by, str(on)) for _, status, by, on in reviews} == {("excluded", "ana", TODAY)}
    exported = {f["finding_id"]: f for f in export("findings", story["out"], "findings-after")}
    for finding_id, *_ in reviews:
        assert exported[finding_id]["reviewed_by"] == "ana" and exported[finding_id]["reviewed_at"] == TODAY
    assert {f["type"] for f in exported.values() if f["status"] == "excluded"} == BLOCKING_TYPES

    page.goto(f"{url}/console/audit")
    assert page.locator("table.audit tr", has_text="resolve finding").count() == 9
    assert page.locator("table.audit tr", has_text="add user").count() == 2
    screenshot(page, story["shots"], "console-audit")

    # the next run releases both held invoices with the next numbers
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("VIGIL_TODAY", TODAY)
        summary = json.loads(vigil(*story["run_args"]).strip().splitlines()[-1])
    assert summary["invoices"]["held"] == 0
    page.goto(f"{url}/console/held")
    assert "No invoice is held" in page.content()
    page.goto(f"{url}/console/invoices?q=C-B")
    released = page.locator("tr", has_text=THROUGH).first
    assert re.search(r"INV-2026-\d{6}", released.inner_text())
    run_link = released.locator("a", has_text="run").get_attribute("href")
    from dagster import DagsterInstance

    with DagsterInstance.get() as instance:
        assert instance.get_run_by_id(run_link.rsplit("/", 1)[1]) is not None
    released.locator("a").first.click()
    assert "issued" in page.locator("h1").inner_text()
    screenshot(page, story["shots"], "console-invoice")
