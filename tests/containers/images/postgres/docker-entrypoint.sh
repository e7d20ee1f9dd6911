#!/usr/bin/env bash
# Entrypoint of the postgres stand-in (Containerfile next to it): the documented behaviour of the
# official postgres image's docker-entrypoint.sh, for the parts the project uses.
#
#   POSTGRES_PASSWORD          superuser password; required unless POSTGRES_HOST_AUTH_METHOD=trust
#   POSTGRES_USER              superuser name (default postgres)
#   POSTGRES_DB                database created at init (default $POSTGRES_USER)
#   POSTGRES_INITDB_ARGS       extra initdb arguments (shell words)
#   POSTGRES_HOST_AUTH_METHOD  pg_hba.conf method for `host all all all` (default scram-sha-256)
#
# On an empty $PGDATA: initdb, a temporary server on the unix socket only, CREATE DATABASE, stop.
# Then `exec postgres ARGS` (listen_addresses='*' comes from the image's postgresql.conf.sample).
# Started as root (the image's default), it first hands $PGDATA and the socket directory to
# postgres and runs again as postgres (setpriv here, gosu in the official image). Any other
# command runs as it is. Writes only to $PGDATA, /var/run/postgresql and /tmp, so the root file
# system may be read-only. The password never appears on a command line.
set -Eeuo pipefail

if [[ "${1:-}" == -* ]]; then set -- postgres "$@"; fi   # `-c name=value`: options for postgres
if [[ "${1:-}" != postgres ]]; then exec "$@"; fi
for arg; do   # postgres --version, --help, -C name ...: no initialisation
    case "$arg" in -'?' | --help | --describe-config | -V | --version | -C) exec "$@" ;; esac
done

mkdir -p "$PGDATA" /var/run/postgresql
chmod 0700 "$PGDATA" 2>/dev/null || :
chmod 3775 /var/run/postgresql 2>/dev/null || :
if [[ "$(id -u)" == 0 ]]; then
    # Started as root (the image's default, as in the official image): both directories go to
    # postgres (a tmpfs or a bind mount arrives owned by root), then run again as postgres.
    find "$PGDATA" /var/run/postgresql \! -user postgres -exec chown postgres:postgres '{}' +
    export HOME=/var/lib/postgresql
    exec setpriv --reuid=postgres --regid=postgres --init-groups "${BASH_SOURCE[0]}" "$@"
fi

if [[ ! -s "$PGDATA/PG_VERSION" ]]; then
    POSTGRES_USER="${POSTGRES_USER:-postgres}"
    POSTGRES_DB="${POSTGRES_DB:-$POSTGRES_USER}"
    auth="${POSTGRES_HOST_AUTH_METHOD:-scram-sha-256}"
    if [[ -z "${POSTGRES_PASSWORD:-}" && "$auth" != trust ]]; then
        cat >&2 <<'MSG'
Error: Database is uninitialized and superuser password is not specified.
       You must specify POSTGRES_PASSWORD to a non-empty value for the
       superuser. For example, "-e POSTGRES_PASSWORD=password" on "docker run".
       (POSTGRES_HOST_AUTH_METHOD=trust allows all connections without a password:
       never do that outside a throw-away test.)
MSG
        exit 1
    fi
    # printf is a shell builtin: the password goes through a pipe, never through argv.
    if [[ -n "${POSTGRES_PASSWORD:-}" ]]; then
        eval 'initdb --username="$POSTGRES_USER" --pwfile=<(printf "%s\n" "$POSTGRES_PASSWORD")' \
            "${POSTGRES_INITDB_ARGS:-}"
    else
        eval 'initdb --username="$POSTGRES_USER"' "${POSTGRES_INITDB_ARGS:-}"
    fi
    printf '\nhost all all all %s\n' "$auth" >>"$PGDATA/pg_hba.conf"

    pg_ctl -D "$PGDATA" -o "-c listen_addresses='' -p ${PGPORT:-5432}" -w start
    if [[ "$POSTGRES_DB" != postgres ]]; then
        PGHOST='' PGHOSTADDR='' PGPASSWORD="${POSTGRES_PASSWORD:-}" psql -v ON_ERROR_STOP=1 \
            --no-psqlrc --no-password --username="$POSTGRES_USER" --dbname=postgres \
            --set=db="$POSTGRES_DB" <<<'CREATE DATABASE :"db";'
    fi
    pg_ctl -D "$PGDATA" -m fast -w stop
    echo 'PostgreSQL init process complete; ready for start up.'
fi

exec "$@"
