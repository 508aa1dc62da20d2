#!/bin/sh
# What the upstream postgres image does with POSTGRES_USER, POSTGRES_DB and
# POSTGRES_PASSWORD_FILE, on Debian's PostgreSQL: initdb on an empty volume, then run.
# PGPORT and LISTEN choose the address (the test runs it in the host's network).
set -eu
bin=$(ls -d /usr/lib/postgresql/*/bin | tail -n 1)
data=/var/lib/postgresql/data
mkdir -p "$data"
chown postgres:postgres "$data"
chmod 700 "$data"
if [ ! -s "$data/PG_VERSION" ]; then
    pw=$(mktemp)
    cat "$POSTGRES_PASSWORD_FILE" >"$pw"
    chown postgres "$pw"
    runuser -u postgres -- "$bin/initdb" -D "$data" -U "$POSTGRES_USER" --pwfile="$pw" \
        --auth-host=scram-sha-256 --auth-local=trust --encoding=UTF8 --locale=C.UTF-8 >/dev/null
    rm -f "$pw"
    echo "CREATE DATABASE $POSTGRES_DB OWNER $POSTGRES_USER;" \
        | runuser -u postgres -- "$bin/postgres" --single -D "$data" -j postgres >/dev/null
fi
exec runuser -u postgres -- "$bin/postgres" -D "$data" -k /tmp \
    -c "listen_addresses=${LISTEN:-*}" -p "${PGPORT:-5432}"
