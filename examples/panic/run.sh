#!/usr/bin/env bash
# The panic button: a user holding only master credentials revokes every key
# under them, against the built-in simulator on loopback (nothing leaves
# this machine).
#
#   bash examples/panic/run.sh            # keyrevoke on PATH
#   KEYREVOKE=target/debug/keyrevoke OUT=/tmp/panic bash examples/panic/run.sh
#
# SIM_PORT (default 18411, as in config.toml; 0 = any free ports) is where
# the simulator listens. Each master holds two sub accounts of three keys;
# the keys labelled user-0 (one on each exchange) are spared. Then, with
# --include-self, the Bybit master deletes itself; no API deletes a Binance
# master, so it is escalated and the run ends with exit code 3 (done; a
# person must act).
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
keyrevoke=${KEYREVOKE:-keyrevoke}
out=${OUT:-panic-drill}
sim_port=${SIM_PORT:-18411}

source "$here/../sim.sh"
step() { printf '\n== %s\n' "$*"; }

step "0. Start the simulator (the masters of config.toml: seed 7)"
start_sim --exchanges binance,bybit --port "$sim_port" \
    --keys 6 --shape panic --keys-per-sub 3

panic=("$keyrevoke" panic --config "$here/config.toml" --out "$out" --spare user-0)

step "1. Plan: list every key under the masters (read-only calls); revoke nothing"
"${panic[@]}" --dry-run

step "2. Run: revoke them all but the spared one, then the masters themselves"
code=0
"${panic[@]}" --include-self --yes || code=$?
[ "$code" -eq 0 ] || [ "$code" -eq 3 ] || exit "$code"

step "3. Verify the audit trail"
"$keyrevoke" audit verify "$out/audit.jsonl"
echo "open $out/report.html in a browser; the keys found are in $out/discovered.jsonl"
