#!/bin/sh
# Refuse to start without DATABASE_URL (Vigil would start its embedded server: not wanted in a
# container), then run the command. Migrations are not applied here: this image also runs
# every Kubernetes run pod, so the schema is brought up to date once per release by
# `vigil migrate` (the compose `migrate` service, the Helm hook Job), never per run.
set -eu
if [ -z "${DATABASE_URL:-}" ]; then
    echo "vigil-entrypoint: DATABASE_URL is not set" >&2
    exit 64
fi
exec "$@"
