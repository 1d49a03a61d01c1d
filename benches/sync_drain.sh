#!/usr/bin/env bash
# Drains a 100,000-rating backlog from a kiosk to HQ on loopback, end to end, and prints
# the wall time and the kiosk's CPU. Usage: benches/sync_drain.sh [RATINGS] [hq-database-url]
set -euo pipefail
cd "$(dirname "$0")/.."
ratings=${1:-100000}
work=$(mktemp -d)
trap 'kill $hq_pid 2>/dev/null || true; rm -rf "$work"' EXIT
hq=(./target/release/countertop-hq --database "${2:-sqlite:$work/hq.db}")
kiosk=(./target/release/countertop --data "$work/kiosk")
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
store=$("${hq[@]}" store add --name Bench --timezone UTC)
code=$("${hq[@]}" enroll-code --store "$store")
"${hq[@]}" serve --listen "127.0.0.1:$port" > "$work/serve.log" 2>&1 &
hq_pid=$!
sleep 0.5
"${kiosk[@]}" enroll --hq "http://127.0.0.1:$port" --code "$code" > /dev/null 2>&1
./target/release/examples/seed "$work/kiosk" "$ratings" --pending
/usr/bin/time -f "drained in %e s wall; kiosk CPU %U s user + %S s system; peak RSS %M KB" \
    "${kiosk[@]}" simulate --ratings 0 --timeout 600
