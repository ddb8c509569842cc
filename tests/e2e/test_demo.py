"""`vigil demo --json` as a real process, twice: every source system shows in the summary
(ingested and quarantined), invoices are issued, auto-pay collects, messages go out, no
shift or device is delivered by two feeds, and the second run prints the same summary."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = [pytest.mark.e2e, pytest.mark.integration]

VIGIL = str(Path(sys.executable).parent / "vigil")
VENDOR_FOLDERS = ("genetec", "milestone", "avigilon", "lenel", "amag", "tracktik", "crm")


def _demo(env: dict) -> dict:
    proc = subprocess.run([VIGIL, "demo", "--json"], env=env, capture_output=True, text=True, timeout=1500)
    assert proc.returncode == 0, f"vigil demo failed:\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}"
    return json.loads(proc.stdout.strip().splitlines()[-1])


@pytest.fixture(scope="module")
def summaries(warehouse):
    env = {**os.environ}  # carries this module's warehouse (VIGIL_WAREHOUSE_DB) and VIGIL_HOME
    return [_demo(env), _demo(env)]


def test_every_source_system_is_ingested_and_quarantined(summaries):
    first = summaries[0]
    for folder in VENDOR_FOLDERS:
        assert first["ingested"].get(folder, 0) > 0, folder
        assert first["quarantined"].get(folder, 0) > 0, folder
    for generic in ("contracts", "timesheets", "incidents", "patrols", "devices"):
        assert first["ingested"].get(generic, 0) > 0, generic


def test_invoices_payments_and_messages(summaries):
    first = summaries[0]
    assert first["invoices"]["issued"] > 0
    assert first["payments"]["succeeded"] > 0
    assert sum(first["messages"].values()) > 0


def test_renewals_decided_in_the_demo(summaries, conn):
    """Four contracts end within the period (vigil_app/demo/renewals.py): one accepted, one
    declined, one silent, one auto-renewed; the accepted one's renewal is billed."""
    renewals = summaries[0]["renewals"]
    for status in ("accepted", "declined", "expired", "auto_renewed"):
        assert renewals.get(status, 0) >= 1, status
    with conn.cursor() as cur:
        cur.execute("""select contract_id, decision, new_contract_id from billing.renewals
                       where contract_id like 'K-%%-V_' order by contract_id""")
        decided = {row[0][-2:]: row[1:] for row in cur.fetchall()}
        cur.execute("select count(*) from billing.invoices where 'K-1001-V1-R1' = any(contract_ids)")
        renewal_invoices = cur.fetchone()[0]
    conn.commit()
    assert decided == {"V1": ("accepted", "K-1001-V1-R1"), "V2": ("declined", None), "V3": ("expired", None),
                       "V4": ("auto_renewed", "K-1004-V4-R1")}
    assert renewal_invoices >= 1


def test_second_demo_prints_the_same_summary(summaries):
    assert summaries[1] == summaries[0]


def test_no_work_is_delivered_by_two_feeds(summaries, conn):
    with conn.cursor() as cur:
        # a site's guarding comes from one feed: generic timesheets or TrackTik, never both
        cur.execute("""select site_id from raw.timesheets group by site_id having count(distinct source) > 1""")
        assert cur.fetchall() == []
        cur.execute("select count(*) from marts.fct_guard_shifts where source = 'tracktik'")
        assert cur.fetchone()[0] > 0
        # incidents and devices arrive from the generic feed and the vendor: the marts keep one
        cur.execute("""select r.source_ref from marts.fct_incident_responses f
                       join raw.incidents r on r.source = f.source and r.record_id = f.incident_id
                       where r.source_ref is not null group by r.source_ref
                       having count(distinct (f.source, f.incident_id)) > 1""")
        assert cur.fetchall() == []
        cur.execute("""select count(*) from marts.fct_devices d
                       where d.source = 'devices' and exists (
                           select 1 from raw.devices v, raw.devices g
                           where g.source = 'devices' and g.record_id = d.device_id
                             and v.source = split_part(g.vendor_ref, ':', 1)
                             and lower(v.vendor_ref) = lower(substr(g.vendor_ref, strpos(g.vendor_ref, ':') + 1)))""")
        assert cur.fetchone()[0] == 0
        # monitoring contracts come from the CRM's own documents, merged with the contract files by dbt,
        # and the renewed versions from the renewals' (docs/renewals.md)
        cur.execute("""select c.source, count(*) from marts.dim_contracts k
                       join raw.contract_documents c on c.client_id = k.client_id
                        and c.document -> 'contracts' @> jsonb_build_array(jsonb_build_object('id', k.contract_id))
                       group by c.source""")
        assert {source for source, _ in cur.fetchall()} == {"contracts", "crm", "renewals"}
    conn.commit()
