"""The daily partitions start at the first data, in the company's timezone, read when the
code location loads without starting anything; `vigil run` loads them again when its ingest
brings earlier data or another company timezone."""

from __future__ import annotations

import importlib
import json
from datetime import date

import pytest

from vigil import clock, db

pytestmark = pytest.mark.integration


def _document(start: str) -> str:
    return json.dumps({"client": {"id": "C-P", "name": "P", "email": "p@example.com"},
                       "sites": [{"id": "S-P", "name": "P", "timezone": "America/Chicago", "tax_jurisdiction": "X"}],
                       "contracts": [{"id": "K-P", "start_date": start, "end_date": "2026-12-31",
                                      "billing_cycle": "weekly"}]})


def _plant(start: str, company_timezone: str | None = None) -> None:
    conn = db.connect()
    with conn, conn.cursor() as cur:
        cur.execute("""insert into raw.contract_documents (client_id, source_file, content_hash, document)
                       values ('C-P', 'contracts/p.yaml', %s, %s::jsonb)""", (start, _document(start)))
        if company_timezone:
            cur.execute("""insert into raw.company_documents (source_file, content_hash, document)
                           values ('company.yaml', %s, %s::jsonb)""",
                        (company_timezone, json.dumps({"name": "Co", "timezone": company_timezone})))
    conn.close()


@pytest.fixture
def empty(warehouse):
    conn = db.connect()
    with conn, conn.cursor() as cur:
        cur.execute("truncate raw.contract_documents, raw.company_documents, raw.timesheets")
    conn.close()


def _partitions():
    from orchestration.definitions import reload

    definitions = reload()
    return definitions, importlib.import_module("orchestration.lib.partitions")


def test_partitions_start_at_the_first_data_in_the_company_timezone(empty):
    _plant("2026-03-02", company_timezone="America/Chicago")
    _, partitions = _partitions()
    assert (partitions.CALENDAR.first_day, partitions.CALENDAR.timezone) == (date(2026, 3, 2), "America/Chicago")
    keys = partitions.daily_partitions.get_partition_keys()
    assert keys[0] == "2026-03-02" and len(keys) < 400  # not a thousand days from 2024-01-01
    assert partitions.daily_partitions.timezone == "America/Chicago"


def test_vigil_run_reloads_when_the_ingest_brought_earlier_data(empty):
    from vigil_app.pipeline import definitions_covering

    _plant("2026-03-02")
    definitions, partitions = _partitions()
    assert definitions_covering(definitions, date(2026, 3, 9), "UTC") is definitions
    _plant("2026-02-01")  # what an ingest just brought
    fresh = definitions_covering(definitions, date(2026, 2, 1), "UTC")
    assert fresh is not definitions
    job = fresh.resolve_job_def("daily_billing_job")
    assert job.partitions_def.get_first_partition_key() == "2026-02-01"
    conn = db.connect()
    with conn, conn.cursor() as cur:  # a company file with a timezone arrived
        cur.execute("""insert into raw.company_documents (source_file, content_hash, document)
                       values ('company.yaml', 'tokyo', '{"name": "Co", "timezone": "Asia/Tokyo"}'::jsonb)""")
    conn.close()
    in_tokyo = definitions_covering(fresh, date(2026, 2, 1), "Asia/Tokyo")
    assert in_tokyo.resolve_job_def("daily_billing_job").partitions_def.timezone == "Asia/Tokyo"


def test_load_never_starts_a_server_and_falls_back(empty, monkeypatch, tmp_path):
    _plant("2026-03-02")
    assert clock.load_calendar().source == "warehouse"  # reachable: the session's server runs
    monkeypatch.setenv("DATABASE_URL", "postgresql://nobody@127.0.0.1:9/vigil?connect_timeout=1")
    saved = clock.load_calendar()
    assert (saved.source, saved.first_day) == ("saved", date(2026, 3, 2))
    monkeypatch.delenv("DATABASE_URL")
    monkeypatch.setenv("VIGIL_HOME", str(tmp_path / "unused"))
    db.reset_cache()
    try:
        unknown = clock.load_calendar()
        assert (unknown.source, unknown.first_day) == ("fallback", clock.FALLBACK_FIRST_DAY)
        assert not (tmp_path / "unused").exists()  # nothing was started or created
    finally:
        monkeypatch.undo()
        db.reset_cache()
