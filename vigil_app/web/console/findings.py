"""The findings queue: groups of related findings (billing/finding_groups.py), filtered and
sorted, each finding with its evidence linked to the records and their raw source lines;
resolved one at a time, a group at a time or everything shown, always through a preview of
what the resolution does to invoices, then vigil_app/review.py (the same as `vigil findings
resolve`)."""

from __future__ import annotations

from datetime import date
from urllib.parse import urlencode

from starlette.datastructures import FormData, QueryParams
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from billing import source_records
from billing.finding_groups import SEVERITY_RANK, SORTS
from billing.finding_types import finding_types
from billing.findings_queue import STATUSES, QueueFilter, load_findings, queue, type_rates
from billing.review_effects import preview
from vigil import db
from vigil_app import audit, review
from vigil_app.web.console import dagster_links
from vigil_app.web.console.session import change, signed_in
from vigil_app.web.console.view import business_today, page

FILTER_FIELDS = ("type", "severity", "client", "site", "status", "from", "to", "sort")


def _date(text: str | None) -> date | None:
    try:
        return date.fromisoformat(text) if text else None
    except ValueError:
        return None


def read_filter(params: QueryParams | FormData) -> tuple[QueueFilter, str, dict[str, str]]:
    """The queue filter, the sort and the raw values (to keep them in links and forms)."""
    raw = {name: str(params.get(name) or "").strip() for name in FILTER_FIELDS}
    status = raw["status"] or "open"
    queue_filter = QueueFilter(
        type=raw["type"] or None,
        severity=raw["severity"] or None,
        client=raw["client"] or None,
        site=raw["site"] or None,
        status=None if status == "all" else status,
        date_from=_date(raw["from"]),
        date_to=_date(raw["to"]),
    )
    sort = raw["sort"] if raw["sort"] in SORTS else "severity"
    return queue_filter, sort, {name: value for name, value in raw.items() if value}


def _choices(conn) -> dict[str, list[str]]:
    with conn.cursor() as cur:
        cur.execute("""select array(select distinct client_id from marts.fct_findings where client_id is not null
                                    order by 1),
                              array(select distinct site_id from marts.fct_findings where site_id is not null
                                    order by 1)""")
        clients, sites = cur.fetchone()
    return {"types": sorted(finding_types()), "severities": sorted(SEVERITY_RANK, key=SEVERITY_RANK.get),
            "statuses": [*STATUSES, "all"], "clients": list(clients), "sites": list(sites), "sorts": list(SORTS)}


@signed_in
async def findings_page(request: Request) -> Response:
    queue_filter, sort, kept = read_filter(request.query_params)
    with db.transaction() as conn:
        groups = queue(conn, queue_filter, sort)
        month, rates = type_rates(conn)
        choices = _choices(conn)
        links = dagster_links.current()
    return page(request, "console/findings.html.j2", active="findings", groups=groups, rates=rates, month=month,
                choices=choices, kept=kept, sort=sort, query=urlencode(kept),
                findings_shown=sum(group.size for group in groups), links=links.findings(),
                resolved=request.query_params.get("resolved"), outcome=request.query_params.get("outcome"))


@signed_in
async def group_page(request: Request) -> Response:
    queue_filter, sort, kept = read_filter(request.query_params)
    group_id = request.path_params["group_id"]
    with db.transaction() as conn:
        found = [group for group in queue(conn, queue_filter, sort) if group.group_id == group_id]
        links = dagster_links.current()
    if not found:
        return page(request, "console/not_found.html.j2", active="findings", status_code=404,
                    what="This group has no finding under the current filter.")
    return page(request, "console/finding_group.html.j2", active="findings", group=found[0], kept=kept,
                query=urlencode(kept), links=links.findings())


@signed_in
async def finding_page(request: Request) -> Response:
    finding_id = request.path_params["finding_id"]
    with db.transaction() as conn:
        found = load_findings(conn, QueueFilter(status=None, finding_ids=(finding_id,)))
        if not found:
            return page(request, "console/not_found.html.j2", active="findings", status_code=404,
                        what=f"No finding {finding_id}.")
        records = source_records.versions(conn, found[0]["evidence"])
        history = audit.entries(conn, subject=finding_id)
        links = dagster_links.current()
    for versions in records.values():
        for version in versions:
            version["line"] = source_records.source_line(version["source_file"], version["source_line"])
    return page(request, "console/finding.html.j2", active="findings", finding=found[0], records=records,
                history=history, links=links.findings(), invoice_links=links)


@signed_in
async def record_page(request: Request) -> Response:
    ref = request.path_params["ref"]
    with db.transaction() as conn:
        versions = source_records.versions(conn, [ref]).get(ref) or []
        with conn.cursor() as cur:
            cur.execute("select finding_id from marts.fct_findings where evidence @> array[%s]::text[]", (ref,))
            citing = tuple(row[0] for row in cur.fetchall())
        cited_by = load_findings(conn, QueueFilter(status=None, finding_ids=citing))
    for version in versions:
        version["line"] = source_records.source_line(version["source_file"], version["source_line"])
    if not versions:
        return page(request, "console/not_found.html.j2", active="findings", status_code=404,
                    what=f"No delivered record {ref}.")
    return page(request, "console/record.html.j2", active="findings", ref=ref, versions=versions, cited_by=cited_by)


def _chosen_findings(conn, form: FormData) -> list[str]:
    """The open findings a form names: single findings, whole groups (as the filter shows
    them), or everything the filter shows."""
    queue_filter, sort, _ = read_filter(form)
    chosen = [str(value) for value in form.getlist("finding")]
    groups = {str(value) for value in form.getlist("group")}
    if groups or form.get("all_shown"):
        for group in queue(conn, queue_filter, sort):
            if form.get("all_shown") or group.group_id in groups:
                chosen += [finding["finding_id"] for finding in group.open_findings]
    return list(dict.fromkeys(chosen))


@change("preview")
async def preview_page(request: Request) -> Response:
    form = request.state.form
    outcome = str(form.get("outcome") or "")
    note = str(form.get("note") or "").strip()
    _, _, kept = read_filter(form)
    with db.transaction() as conn:
        finding_ids = _chosen_findings(conn, form)
        error = None
        if outcome not in review.OUTCOMES:
            error = "Choose an outcome: excluded, billed as is or corrected."
        elif not note:
            error = "Write a note: why this outcome."
        elif not finding_ids:
            error = "Choose at least one open finding (tick a row, or 'every finding shown')."
        if error:
            return page(request, "console/preview.html.j2", active="findings", status_code=400, error=error,
                        kept=kept, query=urlencode(kept), effects=None, findings=[], outcome=outcome, note=note)
        effects = preview(conn, finding_ids, outcome, business_today(conn))
        findings = load_findings(conn, QueueFilter(status=None, finding_ids=tuple(finding_ids)))
    return page(request, "console/preview.html.j2", active="findings", error=None, kept=kept,
                query=urlencode(kept), effects=effects, findings=findings, outcome=outcome, note=note)


@change("resolve")
async def resolve(request: Request) -> Response:
    form = request.state.form
    user = request.state.session.user
    _, _, kept = read_filter(form)
    finding_ids = [str(value) for value in form.getlist("finding")]
    with db.transaction() as conn:
        try:
            done = review.resolve(conn, finding_ids, str(form.get("outcome") or ""), str(form.get("note") or ""),
                                  user.name, via=audit.VIA_CONSOLE)
        except review.ReviewRefused as err:
            return page(request, "console/preview.html.j2", active="findings", status_code=400, error=str(err),
                        kept=kept, query=urlencode(kept), effects=None, findings=[], outcome=form.get("outcome"),
                        note=form.get("note"))
    target = urlencode({**kept, "resolved": len(done), "outcome": done[0].outcome})
    return RedirectResponse(f"/console/findings?{target}", status_code=303)
