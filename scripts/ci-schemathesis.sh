#!/usr/bin/env bash
# Contract check: schemathesis (pinned, from PyPI, in a venv) against a live HQ, once on a
# temp SQLite file and once on a throw-away PostgreSQL started here with initdb/pg_ctl on a
# free port. All checks, a fixed seed, bounded examples (about 2-4 minutes on 2 cores once
# HQ is built). It fails on any finding: a 5xx, an undocumented status or content type,
# a response off its schema, or a schema-valid request refused without the document
# saying why (those few refusals are listed, with the document's reason, in
# scripts/schemathesis.toml).
#
#   scripts/ci-schemathesis.sh            # both backends
#   scripts/ci-schemathesis.sh sqlite     # one
#
# Needs: python3 with venv (Debian: python3-venv), PostgreSQL server binaries
# (Debian: postgresql), cargo. Environment: SCHEMATHESIS_MAX_EXAMPLES (default 25),
# SCHEMATHESIS_SEED (default 20261201).
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)

SCHEMATHESIS_VERSION=4.32.5
MAX_EXAMPLES=${SCHEMATHESIS_MAX_EXAMPLES:-25}
SEED=${SCHEMATHESIS_SEED:-20261201}
backends=("${@:-sqlite postgres}")
read -r -a backends <<< "${backends[*]}"

work=$(mktemp -d)
chmod 755 "$work"
pids=()
pg_data=""
pg_bin=""
as_pg=()
cleanup() {
    for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
    if [ -n "$pg_data" ] && [ -d "$pg_data" ]; then
        "${as_pg[@]}" "$pg_bin/pg_ctl" -D "$pg_data" -m immediate stop >/dev/null 2>&1 || true
    fi
    rm -rf "$work"
}
trap cleanup EXIT

echo "==> building countertop-hq"
cargo build --locked -q -p countertop-hq --bin countertop-hq
hq_bin="$root/target/debug/countertop-hq"

venv="$root/target/schemathesis-venv-$SCHEMATHESIS_VERSION"
if [ ! -x "$venv/bin/schemathesis" ]; then
    echo "==> installing schemathesis $SCHEMATHESIS_VERSION into $venv"
    python3 -m venv "$venv"
    "$venv/bin/pip" install -q --disable-pip-version-check "schemathesis==$SCHEMATHESIS_VERSION"
fi

free_port() {
    "$venv/bin/python" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

start_postgres() {
    pg_bin=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1)
    if [ -z "$pg_bin" ] && command -v pg_config >/dev/null; then pg_bin=$(pg_config --bindir); fi
    [ -x "$pg_bin/initdb" ] || { echo "PostgreSQL server binaries not found: apt-get install postgresql" >&2; exit 1; }
    local dir="$work/pg"
    mkdir -p "$dir"
    if [ "$(id -u)" -eq 0 ]; then
        chown postgres: "$dir"
        as_pg=(runuser -u postgres --)
    fi
    pg_data="$dir/data"
    local port
    port=$(free_port)
    "${as_pg[@]}" "$pg_bin/initdb" -D "$pg_data" -U postgres -A trust -E UTF8 --locale=C --no-sync >/dev/null
    "${as_pg[@]}" "$pg_bin/pg_ctl" -D "$pg_data" -l "$dir/log" -w -o "-p $port -k $dir -c listen_addresses=127.0.0.1 -c fsync=off" start >/dev/null
    "${as_pg[@]}" "$pg_bin/createdb" -h 127.0.0.1 -p "$port" -U postgres hq
    echo "postgres://postgres@127.0.0.1:$port/hq"
}

run_against() {
    local backend=$1 database=$2
    echo "==> $backend: $database"
    local hq=("$hq_bin" --database "$database")
    local store code api_token
    store=$("${hq[@]}" store add --name "Contract Coffee" --timezone Asia/Ho_Chi_Minh 2>/dev/null)
    code=$("${hq[@]}" enroll-code --store "$store" 2>/dev/null)
    api_token=$("${hq[@]}" token add --name schemathesis 2>/dev/null)
    local out="$work/$backend.addr"
    RUST_LOG=warn "${hq[@]}" serve --listen 127.0.0.1:0 >"$out" 2>"$work/$backend.log" &
    pids+=($!)
    for _ in $(seq 100); do [ -s "$out" ] && break; sleep 0.1; done
    local base
    base="http://$(head -1 "$out")"
    local device_token
    device_token=$(CODE="$code" BASE="$base" "$venv/bin/python" - <<'EOF'
import json, os, urllib.request
req = urllib.request.Request(
    os.environ["BASE"] + "/api/v1/enroll",
    data=json.dumps({"protocol": "1.0", "code": os.environ["CODE"], "device_name": "contract"}).encode(),
    headers={"content-type": "application/json"},
)
print(json.load(urllib.request.urlopen(req))["device_token"])
EOF
)
    # The device's own store, so kiosk routes reach their business logic, not just 404s.
    # From the temp dir, so schemathesis's cache (.schemathesis/) stays out of the tree.
    (cd "$work" && DEVICE_TOKEN="$device_token" API_TOKEN="$api_token" STORE_ID="$store" \
        "$venv/bin/schemathesis" --config-file "$root/scripts/schemathesis.toml" run \
        "$base/api/v1/openapi.json" \
        --checks all \
        --seed "$SEED" \
        --max-examples "$MAX_EXAMPLES" \
        --workers 1 \
        --no-color \
        --report junit --report-dir "$work/report-$backend") \
        || { echo "schemathesis found problems on $backend; HQ log:" >&2; tail -50 "$work/$backend.log" >&2; exit 1; }
    echo "==> $backend: schemathesis $SCHEMATHESIS_VERSION, seed $SEED, $MAX_EXAMPLES examples: clean"
}

for backend in "${backends[@]}"; do
    case "$backend" in
        sqlite) run_against sqlite "sqlite:$work/hq.db" ;;
        postgres) run_against postgres "$(start_postgres)" ;;
        *) echo "unknown backend $backend (sqlite or postgres)" >&2; exit 2 ;;
    esac
done
