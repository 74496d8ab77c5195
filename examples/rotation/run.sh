#!/usr/bin/env bash
# Scheduled rotation, against the built-in simulator on loopback (nothing
# leaves this machine): sub keys on Bybit, OKX, KuCoin and Binance, every
# other one older than 90 days, each replaced by a new key of the same
# shape whose secret goes to an age file.
#
#   bash examples/rotation/run.sh            # keyrevoke on PATH
#   KEYREVOKE=target/debug/keyrevoke OUT=/tmp/rotation bash examples/rotation/run.sh
#
# SIM_PORT (default 18421; 0 = any free ports) is where the simulator
# listens. For the schedule itself see crontab, keyrevoke-rotate.service
# and .timer, and cronjob.yaml beside this script.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
keyrevoke=${KEYREVOKE:-keyrevoke}
out=${OUT:-rotation-drill}
sim_port=${SIM_PORT:-18421}
mkdir -p "$out"

source "$here/../sim.sh"
step() { printf '\n== %s\n' "$*"; }

step "0. Start the simulator (4 sub keys per exchange, seed 7)"
start_sim --exchanges bybit,okx,kucoin,binance --port "$sim_port" \
    --keys 4 --shape rotation \
    --write-config "$out/config.toml" --write-plan-keys "$out/plan-keys.toml"
# The plan: this folder's [sink], the simulator's keys. Its folder is
# $out, so the new secrets land in $out/rotated.
cat "$here/plan.toml" "$out/plan-keys.toml" >"$out/plan.toml"

rotate=("$keyrevoke" rotate --plan "$out/plan.toml" --config "$out/config.toml" --out "$out/run")

step "1. Dry run: each key's age from the exchange; nothing created or deleted"
"${rotate[@]}" --dry-run

step "2. Rotate the keys that are due (unattended, as a timer runs it)"
"${rotate[@]}" --yes

step "3. The next scheduled run: the new keys are young, nothing is due"
"${rotate[@]}" --yes

step "4. Verify the audit trail"
"$keyrevoke" audit verify "$out/run/audit.jsonl"

echo
echo "new secrets: $(find "$out/rotated" -name '*.age' | sort | tr '\n' ' ')"
echo "read one:    age -d -i $here/identity.txt $out/rotated/bybit/rot-0.age"
