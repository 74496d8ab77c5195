#!/usr/bin/env bash
# A breach drill: the commands an operator runs, against the built-in
# simulator on loopback (nothing leaves this machine).
#
#   bash examples/breach/run.sh            # keyrevoke on PATH
#   KEYREVOKE=target/debug/keyrevoke OUT=/tmp/drill bash examples/breach/run.sh
#
# SIM_PORT (default 18401, as in config.toml; 0 = any free ports) is where
# the simulator listens. The inventory holds 24 sub-account keys of 8 master
# accounts on Binance, Bybit, KuCoin and OKX, which the masters delete, and
# two keys of FTX, which no API can delete any more: they are escalated, and
# the run ends with exit code 3 (done; a person must act on some keys).
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
keyrevoke=${KEYREVOKE:-keyrevoke}
out=${OUT:-breach-drill}
sim_port=${SIM_PORT:-18401}
export KEYREVOKE_AUDIT_KEY=${KEYREVOKE_AUDIT_KEY:-breach-drill-signing-key}

source "$here/../sim.sh"
step() { printf '\n== %s\n' "$*"; }

step "0. Start the simulator (the same keys as inventory.csv: seed 7)"
start_sim --exchanges binance,bybit,kucoin,okx --port "$sim_port" \
    --keys 6 --shape breach3c --subs-per-master 3

revoke=("$keyrevoke" revoke --inventory "$here/inventory.csv" --config "$here/config.toml" --out "$out")

step "1. Plan: validate the inventory, count keys per exchange and channel; send nothing"
"${revoke[@]}" --dry-run

step "2. Run: revoke every key (--yes: no confirmation prompt)"
# Exit 3: done, but some keys need a person (see the escalation files).
code=0
"${revoke[@]}" --yes || code=$?
[ "$code" -eq 0 ] || [ "$code" -eq 3 ] || exit "$code"

step "3. Status of the job, from its journal"
"$keyrevoke" status --journal "$out/journal.sqlite"

step "4. Verify the audit trail (hash chain and HMACs)"
"$keyrevoke" audit verify "$out/audit.jsonl" --config "$here/config.toml"

step "5. The report: written by the run; written again here from the journal"
"$keyrevoke" report --journal "$out/journal.sqlite" --config "$here/config.toml" --out "$out/report-again"
echo "open $out/report.html in a browser"
