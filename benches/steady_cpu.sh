#!/usr/bin/env bash
# Kiosk CPU per rating in steady state: a kiosk enrolled to a local HQ records ratings at
# a fixed pace for about a minute, syncing each one as a real counter would, and the same
# minute with a single rating is the idle baseline. Prints CPU seconds for both, and the
# difference per rating. Usage: benches/steady_cpu.sh [RATINGS] [SECONDS_APART]
set -euo pipefail
cd "$(dirname "$0")/.."
ratings=${1:-120}
apart=${2:-0.5}
work=$(mktemp -d)
trap 'kill $hq_pid 2>/dev/null || true; rm -rf "$work"' EXIT
hq=(./target/release/countertop-hq --database "sqlite:$work/hq.db")
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
store=$("${hq[@]}" store add --name Bench --timezone UTC)
"${hq[@]}" serve --listen "127.0.0.1:$port" > "$work/serve.log" 2>&1 &
hq_pid=$!
sleep 0.5
cpu() { # data-dir ratings every -> CPU seconds (user + system) of the kiosk process
    local code
    code=$("${hq[@]}" enroll-code --store "$store")
    ./target/release/countertop --data "$1" enroll --hq "http://127.0.0.1:$port" --code "$code" > /dev/null 2>&1
    /usr/bin/time -f "%U %S" -o "$1.time" ./target/release/countertop --data "$1" \
        simulate --ratings "$2" --every "$3" --timeout 600 > /dev/null
    awk '{print $1 + $2}' "$1.time"
}
window=$(python3 -c "print($ratings * $apart)")
busy=$(cpu "$work/busy" "$ratings" "$apart")
idle=$(cpu "$work/idle" 1 "$window")
python3 - "$busy" "$idle" "$ratings" "$window" <<'PY'
import sys
busy, idle, n, window = float(sys.argv[1]), float(sys.argv[2]), int(sys.argv[3]), float(sys.argv[4])
print(f"{n} ratings over {window:.0f} s, each synced: kiosk CPU {busy:.3f} s")
print(f"1 rating over {window:.0f} s (idle baseline): kiosk CPU {idle:.3f} s")
print(f"added CPU per rating: {(busy - idle) / (n - 1) * 1000:.2f} ms")
PY
