# Sourced by the examples' run.sh scripts: start `keyrevoke sim` with the
# arguments given, wait until it listens, stop it when the script exits,
# and export KEYREVOKE_<EXCHANGE>_URL for each exchange it serves (that
# wins over a config's base_url, in case the simulator took other ports).
#
#   start_sim --exchanges bybit,okx --port "$sim_port" --keys 4 --shape rotation
#
# Needs $keyrevoke (the binary to run).
start_sim() {
    sim_log=$(mktemp)
    "$keyrevoke" sim "$@" >"$sim_log" 2>&1 &
    sim_pid=$!
    trap 'kill "$sim_pid" 2>/dev/null; rm -f "$sim_log"' EXIT
    for _ in $(seq 100); do
        grep -q '^{' "$sim_log" && break
        kill -0 "$sim_pid" 2>/dev/null || { cat "$sim_log"; exit 1; }
        sleep 0.1
    done
    local urls x url
    urls=$(head -n 1 "$sim_log")
    echo "$urls"
    for x in $(printf '%s' "$urls" | grep -o '"[a-z]*":' | tr -d '":'); do
        url=$(printf '%s' "$urls" | grep -o "\"$x\":\"[^\"]*\"" | cut -d'"' -f4)
        export "KEYREVOKE_${x^^}_URL=$url"
    done
}
