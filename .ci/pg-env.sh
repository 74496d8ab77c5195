# Sourced by .ci/run: exports KEYREVOKE_TEST_PG_URL for the PostgreSQL
# tests, from the URL the setup script prints last (.ci/pg-setup.sh, or
# $KEYREVOKE_PG_SETUP, which tests/ci_script.rs points at stand-ins).
#
# With CI set, a PostgreSQL that cannot start fails the run: its tests would
# fail anyway (see keyrevoke_journal::test_pg_url), and this says why first.
# Without CI (a developer's machine) they are skipped, and this says so.
set -o pipefail
pg_setup=${KEYREVOKE_PG_SETUP:-.ci/pg-setup.sh}
if [ -f "$pg_setup" ]; then
    if url=$(bash "$pg_setup" | tail -n 1) && [ -n "$url" ]; then
        export KEYREVOKE_TEST_PG_URL="$url"
        echo "PostgreSQL tests against $url"
    elif [ -n "${CI:-}" ]; then
        echo "PostgreSQL could not be started, and CI is set: its tests may not be skipped here" >&2
        return 1
    else
        echo "PostgreSQL could not be started: its tests will be skipped"
    fi
elif [ -n "${CI:-}" ]; then
    echo "$pg_setup is missing, and CI is set: the PostgreSQL tests may not be skipped here" >&2
    return 1
fi
