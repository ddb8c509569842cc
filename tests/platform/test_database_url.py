"""DATABASE_URL: its libpq options (sslmode, sslrootcert, connect_timeout, application_name,
...) reach our connections, Dagster's storage URL and dbt; a resource connection never
migrates (only `vigil` commands and deployment hooks do)."""

from __future__ import annotations

import uuid
from pathlib import Path

import psycopg2
import pytest

from vigil import db

PROJECT_DIR = Path(__file__).resolve().parents[2] / "dbt_project"
URL = ("postgresql://billing:p%40ss@db.example:6543/ledger?sslmode=verify-full&sslrootcert=/etc/ssl/ca.pem"
       "&connect_timeout=7&application_name=vigil-prod&target_session_attrs=read-write")


@pytest.fixture
def external(monkeypatch):
    monkeypatch.setenv("DATABASE_URL", URL)
    monkeypatch.delenv("VIGIL_WAREHOUSE_DB", raising=False)
    db.reset_cache()
    yield db.server_params()
    db.reset_cache()


def test_url_options_reach_libpq(external):
    dsn = psycopg2.extensions.parse_dsn(external.dsn())
    assert dsn == {"host": "db.example", "port": "6543", "user": "billing", "password": "p@ss", "dbname": "ledger",
                   "sslmode": "verify-full", "sslrootcert": "/etc/ssl/ca.pem", "connect_timeout": "7",
                   "application_name": "vigil-prod", "target_session_attrs": "read-write"}
    assert external.dagster_db == "ledger_dagster"
    assert external.describe() == "billing@db.example:6543/ledger"


def test_url_options_reach_dagster_storage(external):
    from sqlalchemy.engine import make_url

    url = make_url(external.sqlalchemy_url(external.dagster_db))
    assert (url.drivername, url.username, url.password, url.host, url.port, url.database) == (
        "postgresql+psycopg2", "billing", "p@ss", "db.example", 6543, "ledger_dagster")
    assert dict(url.query) == {"sslmode": "verify-full", "sslrootcert": "/etc/ssl/ca.pem", "connect_timeout": "7",
                               "application_name": "vigil-prod", "target_session_attrs": "read-write"}


def test_url_options_reach_dbt(external):
    env = external.dbt_env()
    assert (env["VIGIL_PG_HOST"], env["VIGIL_PG_PORT"], env["VIGIL_PG_DATABASE"]) == ("db.example", "6543", "ledger")
    assert (env["VIGIL_PG_CONNECT_TIMEOUT"], env["VIGIL_PG_APPLICATION_NAME"]) == ("7", "vigil-prod")
    assert (env["PGSSLMODE"], env["PGSSLROOTCERT"], env["PGTARGETSESSIONATTRS"]) == (
        "verify-full", "/etc/ssl/ca.pem", "read-write")


@pytest.mark.integration
def test_options_are_used_on_a_real_server(warehouse, monkeypatch, tmp_path):
    """The session's server through a DATABASE_URL: our connection, Dagster's engine and dbt
    all announce the URL's application_name."""
    from dbt.cli.main import dbtRunner
    from sqlalchemy import create_engine, text

    name = f"vigil-url-{uuid.uuid4().hex[:8]}"
    url = (f"postgresql://{warehouse.user}@/{warehouse.warehouse_db}?host={warehouse.host}&port={warehouse.port}"
           f"&application_name={name}&connect_timeout=5")
    monkeypatch.setenv("DATABASE_URL", url)
    monkeypatch.delenv("VIGIL_WAREHOUSE_DB")
    db.reset_cache()
    try:
        params = db.server_params()
        conn = db.connect()
        with conn.cursor() as cur:
            cur.execute("select current_setting('application_name')")
            assert cur.fetchone()[0] == name
        conn.close()
        engine = create_engine(params.sqlalchemy_url(params.warehouse_db))
        with engine.connect() as connection:
            assert connection.execute(text("select current_setting('application_name')")).scalar() == name
        engine.dispose()
        for key, value in params.dbt_env().items():
            monkeypatch.setenv(key, value)
        result = dbtRunner().invoke(["show", "--inline", "select current_setting('application_name') as app",
                                     "--project-dir", str(PROJECT_DIR), "--profiles-dir", str(PROJECT_DIR),
                                     "--target-path", str(tmp_path / "target"), "--log-path", str(tmp_path)])
        assert result.success, result.exception
        assert result.result.results[0].agate_table.rows[0][0] == name
    finally:
        monkeypatch.delenv("DATABASE_URL")
        db.reset_cache()


@pytest.mark.integration
def test_a_resource_connection_never_migrates(warehouse, monkeypatch):
    from orchestration.lib.resources import WarehouseResource

    fresh = f"t_unmigrated_{uuid.uuid4().hex[:8]}"
    admin = psycopg2.connect(warehouse.dsn("postgres"))
    admin.autocommit = True
    with admin.cursor() as cur:
        cur.execute(f'create database "{fresh}"')
    monkeypatch.setenv("VIGIL_WAREHOUSE_DB", fresh)
    db.reset_cache()
    try:
        with WarehouseResource().connection() as conn, conn.cursor() as cur:
            cur.execute("select to_regclass('vigil_meta.schema_migrations')")
            assert cur.fetchone()[0] is None
        assert "VIGIL_PG_DATABASE" in WarehouseResource().dbt_env()
        with WarehouseResource().connection() as conn, conn.cursor() as cur:
            cur.execute("select to_regclass('raw.timesheets')")
            assert cur.fetchone()[0] is None
    finally:
        monkeypatch.setenv("VIGIL_WAREHOUSE_DB", warehouse.warehouse_db)
        db.reset_cache()
        with admin.cursor() as cur:
            cur.execute(f'drop database "{fresh}" with (force)')
        admin.close()


def test_session_settings_join_the_urls_own_options(external):
    """Dagster's storage URL adds its commit setting after the libpq options the URL gave."""
    from sqlalchemy.engine import make_url

    url = make_url(external.sqlalchemy_url(external.dagster_db, {"synchronous_commit": "off"}))
    assert url.query["options"] == "-c synchronous_commit=off"
    assert url.query["application_name"] == "vigil-prod"


@pytest.mark.integration
def test_dagster_bookkeeping_commits_asynchronously_and_the_ledger_synchronously(warehouse):
    """A run stores thousands of Dagster events, each its own commit: Dagster's database does
    not wait for the WAL flush; the warehouse (payments, invoices) still does."""
    from dagster import DagsterInstance

    from vigil import services

    services.prepare_instance()
    with DagsterInstance.get() as instance, instance.event_log_storage._engine.connect() as dagster_conn:
        assert dagster_conn.exec_driver_sql("show synchronous_commit").scalar() == "off"
    with db.connect() as conn, conn.cursor() as cur:
        cur.execute("show synchronous_commit")
        assert cur.fetchone()[0] == "on"
