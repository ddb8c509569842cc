#!/bin/sh
# Bring the warehouse schema up to date (vigil/migrations, idempotent), then run the command.
# With DATABASE_URL unset Vigil would start its embedded server: not wanted in a container.
set -eu
if [ -z "${DATABASE_URL:-}" ]; then
    echo "vigil-entrypoint: DATABASE_URL is not set" >&2
    exit 64
fi
if [ "${VIGIL_SKIP_MIGRATE:-0}" != "1" ]; then
    python -c "from vigil import db; db.prepare()"
fi
exec "$@"
