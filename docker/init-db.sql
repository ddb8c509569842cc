-- Runs once, when the postgres container starts on an empty data directory, as
-- POSTGRES_USER (psql, connected to POSTGRES_DB). Two databases on one server:
--   vigil          the warehouse (raw, staging, marts, billing); its schemas come from
--                  vigil/migrations, applied by the user_code entrypoint, not from here
--   vigil_dagster  Dagster run, event and schedule storage (dagster-postgres)
-- Vigil derives the second name from DATABASE_URL's database: <db>_dagster.
SELECT 'CREATE DATABASE vigil'
WHERE NOT EXISTS (SELECT FROM pg_database WHERE datname = 'vigil')\gexec

SELECT 'CREATE DATABASE vigil_dagster'
WHERE NOT EXISTS (SELECT FROM pg_database WHERE datname = 'vigil_dagster')\gexec
