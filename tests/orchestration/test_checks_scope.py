"""Issue 8 point 14: checks that mean something. A family's check fails only for open
findings on the run's days (an old one stays in the queue, counted, without keeping every
later run red); held invoices likewise; totals are asserted inside the issuing transaction,
so a wrong invoice is never committed (real PostgreSQL)."""

from __future__ import annotations

import dataclasses
from datetime import date
from decimal import Decimal

import dagster as dg
import pytest

from orchestration.defs.billing.checks import held_on_days
from orchestration.defs.quality.checks import family_results, open_findings

pytestmark = pytest.mark.integration


@pytest.fixture
def findings_db(conn):
    with conn, conn.cursor() as cur:
        cur.execute("create schema if not exists marts")
        cur.execute("""create table if not exists marts.fct_findings (finding_id text, type text, severity text,
                       client_id text, site_id text, service_date date, evidence text[], message text)""")
        cur.execute("delete from marts.fct_findings")
        cur.execute("truncate billing.finding_reviews")
        cur.execute("""insert into marts.fct_findings values
            ('F-OLD', 'missing_checkout', 'blocking', 'C-1', 'S-1', '2026-09-01', '{timesheets:A}', 'old'),
            ('F-NEW', 'schedule_deviation', 'warning', 'C-1', 'S-1', '2026-10-06', '{timesheets:B}', 'new')""")
    return conn


def _by_family(results):
    return {r.check_name.removeprefix("findings_"): r for r in results}


def test_a_family_fails_only_for_findings_on_the_run_days(findings_db):
    week = (date(2026, 10, 5), date(2026, 10, 11))
    results = _by_family(family_results(open_findings(findings_db, week), week))
    assert results["shift_integrity"].passed  # the September finding waits in the queue
    assert results["shift_integrity"].metadata["open_in_queue"].value == 1
    assert not results["schedule_adherence"].passed
    assert results["schedule_adherence"].severity == dg.AssetCheckSeverity.WARN

    september = (date(2026, 9, 1), date(2026, 9, 30))
    old = _by_family(family_results(open_findings(findings_db, september), september))
    assert not old["shift_integrity"].passed and old["shift_integrity"].severity == dg.AssetCheckSeverity.ERROR

    with findings_db, findings_db.cursor() as cur:
        cur.execute("insert into billing.finding_reviews values ('F-OLD', 'excluded', 'gone', 'qa', now())")
    assert _by_family(family_results(open_findings(findings_db, september), september))["shift_integrity"].passed


def test_held_invoices_count_on_their_own_days(conn):
    with conn, conn.cursor() as cur:
        cur.execute("truncate billing.invoices cascade")
        cur.execute("""insert into billing.invoices (invoice_key, status, kind, client_id, contract_ids, currency,
                           period_start, period_end, issue_date, due_date, subtotal, tax_total, total)
                       values ('C-1|arrears|2026-09-07|2026-09-13|*|K', 'held', 'arrears', 'C-1', '{K}', 'USD',
                               '2026-09-07', '2026-09-13', '2026-09-14', '2026-10-14', 1, 0, 1)""")
    assert held_on_days(conn, date(2026, 10, 5), date(2026, 10, 11)) == []
    assert len(held_on_days(conn, date(2026, 9, 14), date(2026, 9, 14))) == 1


def test_totals_are_asserted_inside_the_issuing_transaction(conn, monkeypatch):
    """A draft whose total is not the sum of its lines (a fault injected into the rating
    output) rolls the whole issuing transaction back: no invoice, no number used."""
    from billing import issuing
    from billing.rating import RatingInputs
    from tests.billing.builders import contract, make_inputs, shift

    with conn, conn.cursor() as cur:
        cur.execute("truncate billing.invoices cascade")
        cur.execute("truncate billing.number_sequences")
    inputs = make_inputs([contract()], shifts=[shift("A", "2026-10-06T08:00:00-04:00", "2026-10-06T16:00:00-04:00")])
    real_draft = issuing.draft_invoices

    def wrong_total(rating_inputs: RatingInputs, through: date):
        return [dataclasses.replace(d, total=d.total + Decimal("0.01")) for d in real_draft(rating_inputs, through)]

    # the inputs come from the builders, not the marts (this warehouse may have none built)
    monkeypatch.setattr(issuing.store, "load_dimensions", lambda _conn: {
        "clients": inputs.clients, "sites": inputs.sites, "contracts": inputs.contracts, "tax_rates": inputs.tax_rates})
    monkeypatch.setattr(issuing.store, "load_rating_inputs", lambda _conn, *_args: inputs)
    monkeypatch.setattr(issuing.store, "open_blocking_findings", lambda _conn: [])
    monkeypatch.setattr(issuing, "draft_invoices", wrong_total)
    with pytest.raises(issuing.InvoiceTotalsError, match="INV-2026-000001"):
        issuing.issue_invoices(conn, date(2026, 10, 31), scope="all")
    with conn.cursor() as cur:
        cur.execute("select count(*) from billing.invoices")
        assert cur.fetchone()[0] == 0
        cur.execute("select count(*) from billing.number_sequences")
        assert cur.fetchone()[0] == 0
    conn.rollback()

    monkeypatch.setattr(issuing, "draft_invoices", real_draft)
    summary = issuing.issue_invoices(conn, date(2026, 10, 31), scope="all")
    assert summary.issued == ["INV-2026-000001"]
