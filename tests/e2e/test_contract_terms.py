"""Issue 8 points 5 and 9 through dbt and a real `vigil run`.

C-800's contract file lists S-LA (Los Angeles) before S-AA (New York): the contract's
default timezone is the first site in the file, S-LA's, not the alphabetically first. Under
daily overtime (8 h) a 12-hour shift at S-LA from 12:00 to 24:00 Pacific is one Los Angeles
day: 8 h regular (240.00) + 4 h overtime at 45.00 (180.00). Judged in New York it would
straddle midnight (15:00-03:00): 9 h + 3 h, only 1 h of overtime.

C-801 prices guard hours only by hour tiers (no `rates`): 0-10 h at 30.00, then 25.00. A
12-hour shift bills 10 h x 30.00 + 2 h x 25.00 = 350.00 (dbt's contract matching used to
require a rate: `missing_rate`, nothing billed)."""

from __future__ import annotations

import pytest

from tests.e2e.cli import export, vigil

pytestmark = [pytest.mark.e2e, pytest.mark.integration]

FILES = {
    "contracts/C-800.yaml": """\
client: {id: C-800, name: Pacific Freight, email: ap@pacific.example}
sites:
  - {id: S-LA, name: Pacific - Long Beach, timezone: America/Los_Angeles, tax_jurisdiction: US-CA}
  - {id: S-AA, name: Pacific - Newark, timezone: America/New_York, tax_jurisdiction: US-NJ}
contracts:
  - id: K-800
    start_date: 2026-10-01
    end_date: 2027-09-30
    billing_cycle: weekly
    rates: [{service_type: unarmed, rate: "30.00"}]
    overtime: {policy: daily, daily_hours: 8, multiplier: "1.5"}
""",
    "contracts/C-801.yaml": """\
client: {id: C-801, name: Tiered Logistics, email: ap@tiered.example}
sites:
  - {id: S-T, name: Tiered - Yard, timezone: America/Chicago, tax_jurisdiction: US-IL}
contracts:
  - id: K-801
    start_date: 2026-10-01
    end_date: 2027-09-30
    billing_cycle: weekly
    hour_tiers: {mode: graduated, tiers: [{from_hours: 0, rate: "30.00"}, {from_hours: 10, rate: "25.00"}]}
""",
    "tax/jurisdictions.csv": "code,rate,taxable_categories,name\nUS-CA,0,,CA\nUS-NJ,0,,NJ\nUS-IL,0,,IL\n",
    "timesheets/2026-10.csv": """\
shift_id,guard_id,site_id,service_type,check_in,check_out
LA-1,G-1,S-LA,unarmed,2026-10-06T12:00:00-07:00,2026-10-07T00:00:00-07:00
T-1,G-2,S-T,unarmed,2026-10-06T06:00:00-05:00,2026-10-06T18:00:00-05:00
""",
}


@pytest.fixture(scope="module")
def exported(warehouse, tmp_path_factory):
    inbox, out = tmp_path_factory.mktemp("inbox"), tmp_path_factory.mktemp("out")
    for rel, text in FILES.items():
        (inbox / rel).parent.mkdir(parents=True, exist_ok=True)
        (inbox / rel).write_text(text, encoding="utf-8")
    vigil("run", "--inbox", inbox, "--from", "2026-10-01", "--through", "2026-10-12")
    return export("invoices", out), export("findings", out)


def _lines(invoices, client_id):
    (invoice,) = [i for i in invoices if i["client_id"] == client_id]
    return [(ln["category"], ln["quantity"], ln["unit_price"], ln["amount"]) for ln in invoice["lines"]]


def test_default_timezone_is_the_first_site_in_the_file(exported):
    invoices, _ = exported
    assert _lines(invoices, "C-800") == [("regular_hours", "8.00", "30.00", "240.00"),
                                         ("overtime_hours", "4.00", "45.00", "180.00")]


def test_hour_tiers_without_rates_bill(exported):
    invoices, findings = exported
    assert sorted(_lines(invoices, "C-801")) == [("regular_hours", "10.00", "30.00", "300.00"),
                                                 ("regular_hours", "2.00", "25.00", "50.00")]
    assert not [f for f in findings if f["client_id"] == "C-801"]
