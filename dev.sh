#!/usr/bin/env bash
# Countertop's two commands for a fresh Debian machine with only rustup and git:
#
#   ./dev.sh run    install what is missing, build, start HQ on its embedded SQLite
#                   database, and open a kiosk window enrolled to it
#   ./dev.sh test   install what is missing, then run every test
#
# Both install Debian packages with apt-get (through sudo when not root).
set -euo pipefail
cd "$(dirname "$0")"

# Build: a C compiler for the bundled SQLite, fontconfig for Slint.
# Tests: PostgreSQL's server binaries (the HQ tests start their own cluster).
# Run: the X11 libraries winit loads, and Xvfb for machines without a display.
BUILD_PACKAGES=(build-essential pkg-config libfontconfig1-dev ca-certificates)
TEST_PACKAGES=(postgresql)
RUN_PACKAGES=(libx11-6 libx11-xcb1 libxcursor1 libxi6 libxrandr2 libxkbcommon-x11-0 curl sqlite3)

install_packages() {
    local missing=()
    for package in "$@"; do
        dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed" \
            || missing+=("$package")
    done
    [ ${#missing[@]} -eq 0 ] && return 0
    local sudo=()
    [ "$(id -u)" -ne 0 ] && sudo=(sudo)
    echo "==> installing ${missing[*]}"
    "${sudo[@]}" apt-get update -qq
    DEBIAN_FRONTEND=noninteractive "${sudo[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}"
}

run_tests() {
    install_packages "${BUILD_PACKAGES[@]}" "${TEST_PACKAGES[@]}"
    cargo test --workspace --locked
    scripts/ci-fuzz.sh
}

run_demo() {
    local display_packages=()
    if [ -z "${DISPLAY:-}" ] && [ -z "${WAYLAND_DISPLAY:-}" ]; then
        display_packages=(xvfb xauth)
    fi
    install_packages "${BUILD_PACKAGES[@]}" "${RUN_PACKAGES[@]}" "${display_packages[@]}"
    cargo build --release --locked -p countertop -p countertop-hq --bins

    local state=demo
    mkdir -p "$state"
    local hq=(./target/release/countertop-hq --database "sqlite:$state/hq.db")
    local listen=127.0.0.1:8080
    "${hq[@]}" serve --listen "$listen" &
    local hq_pid=$!
    trap 'kill "$hq_pid" 2>/dev/null || true' EXIT
    for _ in $(seq 50); do
        curl -fsS "http://$listen/healthz" >/dev/null 2>&1 && break
        sleep 0.1
    done
    curl -fsS "http://$listen/healthz" >/dev/null || { echo "HQ did not start" >&2; exit 1; }
    echo "==> HQ is up on http://$listen ($state/hq.db)"

    local kiosk=(./target/release/countertop --data "$state/kiosk")
    if [ ! -f "$state/store-id" ]; then
        "${hq[@]}" store add --name "Corner Coffee" --timezone "${TZ_NAME:-Asia/Ho_Chi_Minh}" > "$state/store-id"
    fi
    if "${kiosk[@]}" enroll --help >/dev/null 2>&1 && [ ! -f "$state/kiosk/enrolled" ]; then
        local code
        code=$("${hq[@]}" enroll-code --store "$(cat "$state/store-id")")
        "${kiosk[@]}" enroll --hq "http://$listen" --code "$code" && touch "$state/kiosk/enrolled"
    fi

    echo "==> opening the kiosk window (close it to stop)"
    if [ ${#display_packages[@]} -gt 0 ]; then
        echo "    no display found: running under Xvfb; screenshots with: ${kiosk[*]} screenshots --out shots"
        xvfb-run -a -s "-screen 0 1280x800x24" "${kiosk[@]}" run
    else
        "${kiosk[@]}" run
    fi
}

case "${1:-}" in
    test) run_tests ;;
    run) run_demo ;;
    *)
        echo "usage: ./dev.sh run | test" >&2
        exit 2
        ;;
esac
