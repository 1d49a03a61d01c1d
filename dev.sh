#!/usr/bin/env bash
# Countertop's two commands for a fresh Debian machine with only rustup and git:
#
#   ./dev.sh run    install what is missing, build, start HQ on its embedded SQLite
#                   database with 30 days of demo history and a demo dashboard login, and
#                   open a kiosk window enrolled to the demo's first store
#   ./dev.sh test   install what is missing, then run every test
#   ./dev.sh dashboard-screenshots DIR
#                   PNGs of every dashboard page at 1440x900 and 390x844, in English and
#                   Vietnamese, against the demo data, into DIR
#   ./dev.sh package [--arm64 | --ci]
#                   build the countertop and countertop-hq .deb packages into target/debian
#                   (amd64; --arm64 cross-builds the kiosk for a Raspberry Pi; --ci packages
#                   the dev-profile binaries `cargo test` built, for scripts/ci-package.sh)
#
# Both install Debian packages with apt-get (through sudo when not root).
set -euo pipefail
cd "$(dirname "$0")"

# Build: a C compiler for the bundled SQLite, fontconfig for Slint, and for Slint's linuxkms
# backend (a Pi with no desktop) libudev, libinput, libseat and xkbcommon.
# Tests: PostgreSQL's server binaries (the HQ tests start their own cluster),
# python3-venv for schemathesis (scripts/ci-schemathesis.sh), and Chromium with its
# WebDriver for the dashboard's browser tests (tests/dashboard_browser.rs).
# Run: the X11 libraries winit loads, and Xvfb for machines without a display.
BUILD_PACKAGES=(build-essential pkg-config libfontconfig1-dev ca-certificates
    libudev-dev libinput-dev libseat-dev libxkbcommon-dev)
# Packages: cargo-deb's dependency scan (dpkg-shlibdeps), systemd-analyze for the units
# (procps for the /bin/kill that HQ's ExecReload names),
# curl for the installed HQ's check.
PACKAGE_PACKAGES=(dpkg-dev systemd curl procps)
# The arm64 kiosk: a cross compiler and the arm64 -dev packages it links against.
ARM64_PACKAGES=(gcc-aarch64-linux-gnu libc6-dev-arm64-cross libfontconfig1-dev:arm64
    libudev-dev:arm64 libinput-dev:arm64 libseat-dev:arm64 libxkbcommon-dev:arm64)
TEST_PACKAGES=(postgresql python3-venv chromium chromium-driver)
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
    scripts/ci-package.sh
    scripts/ci-schemathesis.sh
}

# Pinned: `--ci` packages the dev profile, which cargo-deb 3.8 accepts with a warning.
CARGO_DEB_VERSION=3.8.0
ensure_cargo_deb() {
    if [ "$(cargo deb --version 2>/dev/null)" != "cargo-deb $CARGO_DEB_VERSION" ]; then
        cargo install cargo-deb --locked --version "$CARGO_DEB_VERSION"
    fi
}

# The arm64 kiosk's cross build: Debian's aarch64 gcc links it, pkg-config finds the arm64
# libraries (installed with `dpkg --add-architecture arm64`).
arm64_env=(
    CARGO_TARGET_AARCH64_UNKNOWN_LINUX_GNU_LINKER=aarch64-linux-gnu-gcc
    CC_aarch64_unknown_linux_gnu=aarch64-linux-gnu-gcc
    AR_aarch64_unknown_linux_gnu=aarch64-linux-gnu-ar
    STRIP_aarch64_unknown_linux_gnu=aarch64-linux-gnu-strip
    OBJCOPY_aarch64_unknown_linux_gnu=aarch64-linux-gnu-objcopy
    PKG_CONFIG_ALLOW_CROSS=1
    PKG_CONFIG_LIBDIR=/usr/lib/aarch64-linux-gnu/pkgconfig:/usr/share/pkgconfig
    PKG_CONFIG_SYSROOT_DIR=/
)

# ./dev.sh package [--arm64 | --ci] [cargo deb options such as --fast or --profile package-ci]
build_packages() {
    local mode=release
    case "${1:-}" in
        --arm64 | --ci)
            mode=${1#--}
            shift
            ;;
    esac
    install_packages "${BUILD_PACKAGES[@]}" "${PACKAGE_PACKAGES[@]}"
    ensure_cargo_deb
    if [ "$mode" = ci ]; then
        # A release build of Slint takes longer than CI can give; CI checks what is packaged
        # and that it runs, so it packages the binaries `cargo test` has just built (a
        # no-op after it; `cargo build` would rebuild Slint without the dev-dependencies'
        # features).
        cargo test --workspace --locked --no-run
        cargo deb --locked -p countertop --profile dev --no-build --fast "$@"
        cargo deb --locked -p countertop-hq --profile dev --no-build --fast "$@"
    elif [ "$mode" = arm64 ]; then
        if ! dpkg --print-foreign-architectures | grep -qx arm64; then
            local sudo=()
            [ "$(id -u)" -ne 0 ] && sudo=(sudo)
            "${sudo[@]}" dpkg --add-architecture arm64
        fi
        install_packages "${ARM64_PACKAGES[@]}"
        rustup target add aarch64-unknown-linux-gnu
        env "${arm64_env[@]}" cargo deb --locked -p countertop \
            --target aarch64-unknown-linux-gnu "$@"
    else
        cargo deb --locked -p countertop "$@"
        cargo deb --locked -p countertop-hq "$@"
    fi
    ls -l target/debian/*.deb target/*/debian/*.deb 2>/dev/null || true
}

# Stops everything `./dev.sh run` started, however it ends (window closed, Ctrl-C, error).
HQ_PID=""
stop_demo() {
    if [ -n "$HQ_PID" ]; then
        kill "$HQ_PID" 2>/dev/null || true
        wait "$HQ_PID" 2>/dev/null || true
    fi
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
    # Global, not local: the EXIT trap runs after this function has returned.
    HQ_PID=$!
    trap stop_demo EXIT
    trap 'exit 130' INT TERM
    for _ in $(seq 50); do
        curl -fsS "http://$listen/healthz" >/dev/null 2>&1 && break
        sleep 0.1
    done
    curl -fsS "http://$listen/healthz" >/dev/null || { echo "HQ did not start" >&2; exit 1; }
    # A healthy answer from an HQ left over from an earlier run is not ours (ours exits
    # at once when it cannot bind, so give it a moment to say so).
    sleep 0.5
    kill -0 "$HQ_PID" 2>/dev/null || { echo "HQ could not listen on $listen: is another HQ still running there?" >&2; exit 1; }
    echo "==> HQ is up on http://$listen ($state/hq.db)"

    local kiosk=(./target/release/countertop --data "$state/kiosk")
    # 30 days of history for three cafés and the demo admin (again on every run: it adds
    # nothing twice). Its first store, Corner Coffee, is the kiosk window's.
    "${hq[@]}" demo > "$state/store-id"
    if "${kiosk[@]}" enroll --help >/dev/null 2>&1 && [ ! -f "$state/kiosk/enrolled" ]; then
        local code
        code=$("${hq[@]}" enroll-code --store "$(cat "$state/store-id")")
        "${kiosk[@]}" enroll --hq "http://$listen" --code "$code" && touch "$state/kiosk/enrolled"
    fi

    echo "==> dashboard: http://$listen/"
    echo "    sign in as: demo@countertop.example"
    echo "    password:   countertop-demo"
    echo "    (30 days of demo history for three cafés; the kiosk window's taps count for"
    echo "    Corner Coffee: choose the period Today to see them on top)"
    echo "==> opening the kiosk window (close it to stop)"
    echo "    staff mode: hold the shop's name 2 s. First day: log in with the manager PIN 1234;"
    echo "    you must then choose new manager and barista PINs (the barista PIN 0000 opens nothing until then)"
    if [ ${#display_packages[@]} -gt 0 ]; then
        echo "    no display found: running under Xvfb; screenshots with: ${kiosk[*]} screenshots --out shots"
        xvfb-run -a -s "-screen 0 1280x800x24" "${kiosk[@]}" run
    else
        "${kiosk[@]}" run
    fi
}

# PNGs of every dashboard page (tests/dashboard_browser.rs, the ignored `screenshots`).
dashboard_screenshots() {
    local out=${1:?usage: ./dev.sh dashboard-screenshots DIR}
    install_packages "${BUILD_PACKAGES[@]}" "${TEST_PACKAGES[@]}"
    mkdir -p "$out"
    COUNTERTOP_SCREENSHOTS=$(cd "$out" && pwd) cargo test --locked --test dashboard_browser \
        screenshots -- --ignored --exact
    ls "$out"
}

case "${1:-}" in
    test) run_tests ;;
    run) run_demo ;;
    dashboard-screenshots)
        shift
        dashboard_screenshots "$@"
        ;;
    package)
        shift
        build_packages "$@"
        ;;
    *)
        echo "usage: ./dev.sh run | test | package [--arm64 | --ci] | dashboard-screenshots DIR" >&2
        exit 2
        ;;
esac
