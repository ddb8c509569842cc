"""company.yaml (interfaces.md section 2a): validated with file, line and field, stored whole
in raw.company_documents with its logo, in force as the newest, read by dim_company and by
the business clock."""

from __future__ import annotations

from pathlib import Path

import psycopg2.extras
import pytest

from connectors.inbox import ingest_inbox, parse_inbox
from connectors.inbox.company import parse_company

PROJECT_DIR = Path(__file__).resolve().parents[2] / "dbt_project"
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 32

COMPANY = """\
name: Sentinel Guard Services LLC
address:
  - 200 Harbor Way, Suite 4
  - Newark, NJ 07102
email: billing@sentinel.example
phone: "+1 973 555 0100"
tax_id: 12-3456789
remit_to:
  - Sentinel Guard Services LLC, PO Box 1200, Newark, NJ 07101
  - "ACH: routing 021000021, account 000123456789"
timezone: America/New_York
logo: logo.png
sales_email: sales@sentinel.example
"""


def _inbox(root: Path, text: str = COMPANY) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    (root / "logo.png").write_bytes(PNG)
    (root / "company.yaml").write_text(text, encoding="utf-8")
    return root


def test_company_file_is_accepted_whole_with_its_logo(tmp_path):
    result = parse_company(_inbox(tmp_path) / "company.yaml", tmp_path)
    assert result.quarantined == []
    row = result.rows.row(0, named=True)
    assert row["logo"] == PNG and row["logo_media_type"] == "image/png"
    assert '"timezone":"America/New_York"' in row["document"]
    assert '"address":["200 Harbor Way, Suite 4","Newark, NJ 07102"]' in row["document"]


@pytest.mark.parametrize(("text", "line", "field", "reason"), [
    (COMPANY.replace("name: Sentinel Guard Services LLC\n", ""), None, "name", "is required"),
    (COMPANY.replace("timezone: America/New_York", "timzone: America/New_York"), 11, "timzone",
     "did you mean 'timezone'"),
    (COMPANY.replace("timezone: America/New_York", "timezone: Eastern"), 11, "timezone", "not an IANA timezone"),
    (COMPANY.replace("logo: logo.png", "logo: ../logo.png"), 12, "logo", "inside the inbox"),
    (COMPANY.replace("logo: logo.png", "logo: missing.png"), 12, "logo", "does not exist"),
    (COMPANY.replace("email: billing@sentinel.example", "email: billing"), 5, "email", "not an email address"),
    (COMPANY.replace("address:\n  - 200 Harbor Way, Suite 4\n  - Newark, NJ 07102",
                     "address: 200 Harbor Way"), 2, "address", "list of lines"),
])
def test_a_bad_company_file_is_refused_with_line_and_field(tmp_path, text, line, field, reason):
    path = _inbox(tmp_path, text) / "company.yaml"
    result = parse_company(path, tmp_path)
    assert result.rows.height == 0
    [refused] = result.quarantined
    assert (refused.source, refused.file_path, refused.field) == ("company", str(path), field)
    assert refused.line == (line or refused.line) and refused.line is not None
    assert refused.reason.startswith("company file rejected: ") and reason in refused.reason


def test_the_inbox_reads_company_yaml_at_its_root(tmp_path):
    results = parse_inbox(_inbox(tmp_path))
    assert [(r.source, r.table, r.rows.height) for r in results] == [("company", "company_documents", 1)]
    assert [r.source for r in parse_inbox(tmp_path, only_files=["logo.png"])] == ["company"]  # a new logo
    assert parse_inbox(tmp_path, only_files=["timesheets/2026-10.csv"]) == []


@pytest.mark.integration
def test_stored_once_newest_in_force_and_read_by_the_clock(warehouse, conn, tmp_path):
    from vigil import clock

    inbox = _inbox(tmp_path)
    assert ingest_inbox(conn, inbox).new_rows("company_documents") == 1
    assert ingest_inbox(conn, inbox).new_rows("company_documents") == 0
    assert clock.read_clock(conn).company_timezone == "America/New_York"
    (inbox / "company.yaml").write_text(COMPANY.replace("America/New_York", "America/Chicago"))
    assert ingest_inbox(conn, inbox).new_rows("company_documents") == 1
    assert clock.read_clock(conn).company_timezone == "America/Chicago"
    (inbox / "company.yaml").write_text(COMPANY)  # the first version again: in force again
    assert ingest_inbox(conn, inbox).new_rows("company_documents") == 1
    assert clock.read_clock(conn).company_timezone == "America/New_York"
    with conn.cursor() as cur:
        cur.execute("select count(*) from raw.company_documents")
        assert cur.fetchone()[0] == 2
    conn.commit()


def _build_dim_company(params, tmp_path: Path):
    from dbt.cli.main import dbtRunner

    with pytest.MonkeyPatch.context() as patch:
        for key, value in params.dbt_env().items():
            patch.setenv(key, value)
        result = dbtRunner().invoke(["build", "--select", "+dim_company", "--project-dir", str(PROJECT_DIR),
                                     "--profiles-dir", str(PROJECT_DIR), "--target-path", str(tmp_path / "target"),
                                     "--log-path", str(tmp_path / "logs")])
    assert result.success, result.exception


def _dim_company(conn) -> list[dict]:
    with conn.cursor(cursor_factory=psycopg2.extras.RealDictCursor) as cur:
        cur.execute("select * from marts.dim_company")
        rows = [dict(r) for r in cur.fetchall()]
    conn.commit()
    return rows


@pytest.mark.integration
def test_dim_company_has_one_row_with_defaults_or_the_file(warehouse, conn, tmp_path):
    with conn, conn.cursor() as cur:
        cur.execute("truncate raw.company_documents")
    _build_dim_company(warehouse, tmp_path / "empty")
    [default] = _dim_company(conn)
    assert (default["company_name"], default["timezone"], default["is_default"]) == ("Vigil demo company", "UTC", True)
    assert default["address_lines"] == [] and default["logo"] is None

    ingest_inbox(conn, _inbox(tmp_path / "inbox"))
    _build_dim_company(warehouse, tmp_path / "filed")
    [company] = _dim_company(conn)
    assert company["company_name"] == "Sentinel Guard Services LLC"
    assert company["address_lines"] == ["200 Harbor Way, Suite 4", "Newark, NJ 07102"]
    assert company["remit_to_lines"][1] == "ACH: routing 021000021, account 000123456789"
    assert (company["email"], company["phone"], company["tax_id"]) == (
        "billing@sentinel.example", "+1 973 555 0100", "12-3456789")
    assert (company["timezone"], company["sales_email"], company["logo_path"]) == (
        "America/New_York", "sales@sentinel.example", "logo.png")
    assert bytes(company["logo"]) == PNG and company["logo_media_type"] == "image/png"
    assert company["is_default"] is False
