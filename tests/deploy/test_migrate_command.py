"""`vigil migrate`, the deployment's migration step (compose `migrate` service, Helm hook Job):
creates the databases, applies every migration once, and a second run changes nothing."""

from __future__ import annotations

import contextlib
import io

import psycopg2
import pytest

pytestmark = pytest.mark.integration


def _migrate() -> str:
    from vigil_app.cli import main

    err = io.StringIO()
    with contextlib.redirect_stderr(err):
        assert main(["migrate"]) == 0
    return err.getvalue()


def test_migrate_applies_every_migration_once(warehouse, monkeypatch):
    from vigil import db

    name = "t_migrate_command_fresh"
    admin = psycopg2.connect(warehouse.dsn("postgres"))
    admin.autocommit = True
    try:
        with admin.cursor() as cur:
            for database in (name, f"{name}_dagster"):
                cur.execute(f'drop database if exists "{database}" with (force)')
        monkeypatch.setenv("VIGIL_WAREHOUSE_DB", name)
        db.reset_cache()
        files = [file_name for file_name, _ in db._migration_files()]
        first = _migrate()
        assert first.startswith("applied " + ", ".join(files)), first
        assert "up to date" in _migrate()
        with db.transaction() as conn, conn.cursor() as cur:
            cur.execute("select version from vigil_meta.schema_migrations order by version")
            assert [row[0] for row in cur.fetchall()] == files
            cur.execute("select 1 from pg_database where datname = %s", (f"{name}_dagster",))
            assert cur.fetchone() is not None
    finally:
        db.reset_cache()
        with admin.cursor() as cur:
            for database in (name, f"{name}_dagster"):
                cur.execute(f'drop database if exists "{database}" with (force)')
        admin.close()
