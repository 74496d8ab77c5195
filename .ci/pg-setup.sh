#!/usr/bin/env bash
# Starts a local PostgreSQL for keyrevoke-journal's PostgreSQL tests and prints
# the URL to export as KEYREVOKE_TEST_PG_URL. Idempotent: installs the Debian
# packages only if missing, creates the cluster only if missing, starts it only
# if it is down, and adds the trust rule and the database only once.
# Needs root (apt-get, pg_ctlcluster). Debian/Ubuntu only.
set -euo pipefail

if [ "$(id -u)" -ne 0 ]; then
    exec sudo -E bash "$0" "$@"
fi

DB=keyrevoke_test
PORT=5432

if ! command -v pg_ctlcluster >/dev/null 2>&1 || ! ls /usr/lib/postgresql/*/bin/postgres >/dev/null 2>&1; then
    export DEBIAN_FRONTEND=noninteractive
    apt-get update
    apt-get install -y postgresql
fi

# The newest installed server version, e.g. 15.
VERSION=$(ls /usr/lib/postgresql | sort -n | tail -1)
CLUSTER=main

if ! pg_lsclusters -h | awk -v v="$VERSION" -v c="$CLUSTER" '$1==v && $2==c {found=1} END {exit !found}'; then
    pg_createcluster --port "$PORT" "$VERSION" "$CLUSTER"
fi

CONF_DIR=/etc/postgresql/$VERSION/$CLUSTER
HBA=$CONF_DIR/pg_hba.conf

# Tests connect over TCP as `postgres` without a password: trust that, and only
# that, for the test database from loopback. The rule goes first because
# pg_hba.conf is matched top-down.
RULE="host    $DB    postgres    127.0.0.1/32    trust"
if ! grep -qF "$RULE" "$HBA"; then
    { echo "$RULE"; cat "$HBA"; } > "$HBA.new"
    chown postgres:postgres "$HBA.new"
    chmod 640 "$HBA.new"
    mv "$HBA.new" "$HBA"
fi

# Listen on loopback TCP only, on the expected port.
sed -i -E "s/^#?listen_addresses\s*=.*/listen_addresses = '127.0.0.1'/" "$CONF_DIR/postgresql.conf"
sed -i -E "s/^#?port\s*=.*/port = $PORT/" "$CONF_DIR/postgresql.conf"

if pg_lsclusters -h | awk -v v="$VERSION" -v c="$CLUSTER" '$1==v && $2==c && $4=="online" {found=1} END {exit !found}'; then
    pg_ctlcluster "$VERSION" "$CLUSTER" reload
else
    pg_ctlcluster "$VERSION" "$CLUSTER" start
fi

for _ in $(seq 1 30); do
    pg_isready -h 127.0.0.1 -p "$PORT" -q && break
    sleep 1
done
pg_isready -h 127.0.0.1 -p "$PORT"

# Administration goes over the Unix socket, where the `postgres` OS user is
# trusted by Debian's default peer rule; -w never prompts for a password.
as_postgres() { runuser -u postgres -- "$@" </dev/null; }
if ! as_postgres psql -w -p "$PORT" -d postgres -tAc "SELECT 1 FROM pg_database WHERE datname = '$DB'" | grep -q 1; then
    as_postgres createdb -w -p "$PORT" "$DB"
fi

# Check the URL the tests will use actually works.
psql -w "postgres://postgres@127.0.0.1:$PORT/$DB" -tAc 'SELECT 1' </dev/null >/dev/null

echo "postgres://postgres@127.0.0.1:$PORT/$DB"
