"""Issue 8 points 3, 4, 6 and 7 at the rating engine: unit prices at storage precision,
invoice identity independent of terms, site-less lines taxed, one currency table."""

from __future__ import annotations

import dataclasses
from datetime import date
from decimal import Decimal

import pytest

from billing.rating import draft_invoices
from billing.rating.invoices import invoice_key
from billing.rating.model import IssuedGroup
from tests.billing.builders import client, contract, device, make_inputs, shift, site, tax_row
from vigil import currency

D = Decimal


def test_weekly_device_fee_unit_price_is_stored_precision():
    # 210.00 a month on a weekly cycle of October: 210 x 7 / 31 = 47.4193548387... per camera.
    k = contract(cycle="weekly", rates=[], per_device=[{"device_type": "camera", "monthly_fee": "210.00"}],
                 start="2026-10-05")
    cams = [device(f"CAM-{n}", "camera", date(2026, 9, 1)) for n in range(3)]
    invs = draft_invoices(make_inputs([k], devices=cams), date(2026, 10, 1))
    line = invs[0].lines[0]
    assert line.unit_price == D("47.419355") and str(line.unit_price) == "47.419355"
    assert line.quantity == 3 and line.amount == D("142.26")  # 142.2580645... computed exactly, rounded once


def test_key_is_client_kind_cycle_site_and_first_contract():
    inp = make_inputs([contract(payment_terms_days=30)], shifts=[
        shift("A", "2026-10-06T08:00:00-04:00", "2026-10-06T16:00:00-04:00")])
    (inv,) = draft_invoices(inp, date(2026, 10, 31))
    assert inv.key == "C-1|arrears|2026-10-05|2026-10-11|*|K-1"
    assert inv.key == invoice_key("C-1", "arrears", date(2026, 10, 5), date(2026, 10, 11), None, ("K-1",))
    edited = make_inputs([contract(payment_terms_days=15)], shifts=inp.shifts.to_dicts())
    assert [d.key for d in draft_invoices(edited, date(2026, 10, 31))] == [inv.key]


def test_issued_cycle_keeps_its_grouping_and_dates_after_a_term_edit():
    shifts = [shift("A", "2026-10-06T08:00:00-04:00", "2026-10-06T16:00:00-04:00"),
              shift("B", "2026-10-06T08:00:00-04:00", "2026-10-06T16:00:00-04:00", site_id="S-2", guard="G-2"),
              shift("C", "2026-10-13T08:00:00-04:00", "2026-10-13T16:00:00-04:00")]
    sites = [site("S-1"), site("S-2")]
    issued = IssuedGroup(key="C-1|arrears|2026-10-05|2026-10-11|*|K-1", client_id="C-1", kind="arrears",
                         cycle_start=date(2026, 10, 5), site_id=None, contract_ids=("K-1",),
                         issue_date=date(2026, 10, 12), due_date=date(2026, 11, 11))
    # Now per site with 15-day terms: the issued week stays one consolidated invoice, as issued.
    inputs = make_inputs([contract(payment_terms_days=15)], shifts=shifts, sites=sites,
                         clients=[client(grouping="per_site")])
    invs = draft_invoices(dataclasses.replace(inputs, issued=(issued,)), date(2026, 10, 31))
    first_week = [i for i in invs if i.period_start == date(2026, 10, 5)]
    assert [(i.key, i.due_date, len(i.lines)) for i in first_week] == [(issued.key, date(2026, 11, 11), 2)]
    (second_week,) = [i for i in invs if i.period_start == date(2026, 10, 12)]
    assert second_week.key == "C-1|arrears|2026-10-12|2026-10-18|S-1|K-1"
    assert second_week.due_date == date(2026, 11, 3)  # the new terms apply to cycles not yet issued


def test_lines_without_a_site_are_taxed_where_the_first_site_is():
    k = contract(cycle="monthly", rates=[], start="2026-10-01",
                 recurring=[{"code": "SVC", "category": "service_fee", "amount": "100.00"}])
    sites = [site("S-9", jurisdiction="US-IL"), site("S-1", jurisdiction="US-NY")]
    sites[0]["site_position"], sites[1]["site_position"] = 2, 1  # the file lists S-1 first
    tax = [tax_row("US-NY", "0.08875", ["service_fee"]), tax_row("US-IL", "0.0625", ["service_fee"])]
    (inv,) = draft_invoices(make_inputs([k], sites=sites, tax=tax), date(2026, 10, 20))
    fee, tax_line = inv.lines
    assert (fee.site_id, fee.tax_jurisdiction) == (None, "US-NY")
    assert (tax_line.tax_jurisdiction, tax_line.amount, inv.total) == ("US-NY", D("8.88"), D("108.88"))


def test_one_currency_table_for_rounding_display_and_provider_units():
    k = contract(cycle="monthly", rates=[], start="2026-10-01",
                 recurring=[{"code": "MON", "category": "monitoring", "amount": "45000"}])
    # 45000 CLP prorated 20/31 days = 29032.258... -> 29032 pesos, never cents.
    k["terms"]["start_date"] = "2026-10-12"
    k["start_date"] = date(2026, 10, 12)
    (inv,) = draft_invoices(make_inputs([k], clients=[client(currency="CLP")]), date(2026, 10, 20))
    assert inv.currency == "CLP" and inv.total == D("29032")
    assert currency.display(inv.total, "CLP") == "29032"
    assert currency.to_minor_units(inv.total, "CLP") == 29032  # not 2903200
    assert currency.to_minor_units(D("12.34"), "USD") == 1234
    assert currency.round_half_up(D("1.2345"), "BHD") == D("1.235")
    with pytest.raises(ValueError, match="ISO 4217"):
        currency.exponent("XYZ")
