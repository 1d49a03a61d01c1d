#!/usr/bin/env bash
# CI: the appliance packages. Builds the countertop and countertop-hq .debs (amd64) from the
# dev-profile binaries `cargo test` has just built (a release build of Slint would not fit
# CI's time), checks what they hold (files, modes, owners, conffiles,
# maintainer scripts), verifies the systemd units and HQ's hardening rating, installs both
# packages with `dpkg --root` into a temporary root, and runs the installed binaries from
# there: `countertop --version`, `countertop first-frame` with the packaged kiosk.toml, the
# touch-rotation rule, and `countertop-hq serve` answering /healthz.
#
# A full install into a debootstrap'd Debian (maintainer scripts, users, remove and purge)
# is too slow for CI: packaging/test-debootstrap.sh does it.
set -euo pipefail
cd "$(dirname "$0")/.."
started=$SECONDS

fail() {
    echo "ci-package: FAIL: $*" >&2
    exit 1
}

if [ -z "${CI_PACKAGE_REUSE:-}" ]; then # CI_PACKAGE_REUSE=1: check the .debs already built
    rm -f target/debian/countertop_*.deb target/debian/countertop-hq_*.deb
    ./dev.sh package --ci
fi
kiosk_deb=$(ls target/debian/countertop_*_amd64.deb)
hq_deb=$(ls target/debian/countertop-hq_*_amd64.deb)
echo "==> built $kiosk_deb and $hq_deb ($((SECONDS - started)) s)"

# --- Contents: every file with its mode and owner (root/root). ---
expect_file() { # deb mode path
    local line
    line=$(dpkg-deb -c "$1" | awk -v p="./$3" '$6 == p')
    [ -n "$line" ] || fail "$1 has no $3"
    set -- "$1" "$2" "$3" $line
    [ "$4" = "$2" ] || fail "$3 in $1 has mode $4, expected $2"
    case "$5" in
    root/root | 0/0) ;;
    *) fail "$3 in $1 is owned by $5, expected root/root" ;;
    esac
}
expect_file "$kiosk_deb" -rwxr-xr-x usr/bin/countertop
expect_file "$kiosk_deb" -rw-r--r-- etc/countertop/kiosk.toml
expect_file "$kiosk_deb" -rw-r--r-- usr/lib/systemd/system/countertop.service
expect_file "$kiosk_deb" -rw-r--r-- usr/lib/systemd/system/countertop-cage.service
expect_file "$kiosk_deb" -rwxr-xr-x usr/lib/countertop/apply-display
expect_file "$kiosk_deb" -rw-r--r-- usr/share/doc/countertop/README.md
expect_file "$hq_deb" -rwxr-xr-x usr/bin/countertop-hq
expect_file "$hq_deb" -rw-r----- etc/countertop-hq/countertop-hq.env
expect_file "$hq_deb" -rw-r--r-- usr/lib/systemd/system/countertop-hq.service
# The data directories belong to the service users, made by the postinst, never shipped.
for deb in "$kiosk_deb" "$hq_deb"; do
    if dpkg-deb -c "$deb" | grep -q '\./var/'; then
        fail "$deb ships files under /var"
    fi
done

# --- Control: conffiles, dependencies, maintainer scripts. ---
expect_conffiles() { # deb path...
    local deb=$1
    shift
    local got
    got=$(dpkg-deb -I "$deb" conffiles | sort)
    [ "$got" = "$(printf '%s\n' "$@" | sort)" ] || fail "$deb conffiles are: $got"
}
expect_conffiles "$kiosk_deb" /etc/countertop/kiosk.toml
expect_conffiles "$hq_deb" /etc/countertop-hq/countertop-hq.env
depends=$(dpkg-deb -f "$kiosk_deb" Depends)
for lib in libinput10 libseat1 libudev1 libfontconfig1 libxkbcommon0 passwd udev systemd; do
    grep -q "\b$lib\b" <<<"$depends" || fail "countertop does not depend on $lib: $depends"
done
for deb in "$kiosk_deb" "$hq_deb"; do
    ctrl=$(mktemp -d)
    dpkg-deb --ctrl-tarfile "$deb" | tar -x -C "$ctrl"
    for script in postinst prerm postrm; do
        [ -x "$ctrl/$script" ] || fail "$deb has no executable $script"
        sh -n "$ctrl/$script" || fail "$deb: $script is not valid sh"
        ! grep -q '#DEBHELPER#' "$ctrl/$script" || fail "$deb: $script has #DEBHELPER# left"
        head -1 "$ctrl/$script" | grep -qx '#!/bin/sh' || fail "$deb: $script is not #!/bin/sh"
    done
    if ! tar -tvf <(dpkg-deb --ctrl-tarfile "$deb") ./postinst | grep -Eq '^-rwxr-xr-x (root/root|0/0) '; then
        fail "$deb: postinst is not 0755 root/root"
    fi
    rm -rf "$ctrl"
done
echo "==> package contents and control files are as expected"

# --- Install both into a temporary root with dpkg --root (unpacked: the maintainer
#     scripts need a real system, see packaging/test-debootstrap.sh). ---
root=$(mktemp -d)
work=$(mktemp -d)
hq_pid=
trap 'rm -rf "$root" "$work"; [ -z "$hq_pid" ] || kill "$hq_pid" 2>/dev/null || true' EXIT
mkdir -p "$root/var/lib/dpkg/info" "$root/var/lib/dpkg/updates"
touch "$root/var/lib/dpkg/status"
dpkg --root="$root" --log=/dev/null --force-depends --unpack "$kiosk_deb" "$hq_deb" >/dev/null
for package in countertop countertop-hq; do
    status=$(dpkg-query --admindir="$root/var/lib/dpkg" -W -f='${Status}' "$package")
    [ "$status" = "install ok unpacked" ] || fail "$package in the temporary root: $status"
done
registered=$(dpkg-query --admindir="$root/var/lib/dpkg" -W -f='${Conffiles}\n' countertop | awk 'NF {print $1}')
[ "$registered" = /etc/countertop/kiosk.toml ] || fail "dpkg registered conffiles: $registered"
# Unpacked, not configured: dpkg keeps a conffile as .dpkg-new until the configure step.
kiosk_toml="$root/etc/countertop/kiosk.toml.dpkg-new"
[ -f "$kiosk_toml" ] || fail "no $kiosk_toml after unpacking"

# --- The units: systemd-analyze verify, with their commands pointed at the temporary
#     root (verify checks that each command exists), and HQ's hardening rating. ---
mkdir -p "$work/units"
for unit in countertop.service countertop-cage.service countertop-hq.service; do
    sed -e "s|/usr/bin/countertop|$root/usr/bin/countertop|g" \
        -e "s|/usr/lib/countertop/|$root/usr/lib/countertop/|g" \
        "$root/usr/lib/systemd/system/$unit" >"$work/units/$unit"
done
verify=$(systemd-analyze verify --man=no "$work"/units/*.service 2>&1 || true)
# cage comes from Debian's cage package, a Suggests of the fallback unit.
problems=$(grep -v -e '/usr/bin/cage is not executable' <<<"$verify" | grep -v '^$' || true)
[ -z "$problems" ] || fail "systemd-analyze verify: $problems"
security=$(systemd-analyze security --offline=yes --threshold=15 "$root/usr/lib/systemd/system/countertop-hq.service" 2>&1) \
    || fail "countertop-hq.service is rated worse than 1.5: $(tail -1 <<<"$security")"
echo "==> units verify; $(tail -1 <<<"$security")"

# --- The installed kiosk runs: --version, a first frame with the packaged kiosk.toml
#     (its data_dir overridden: /var/lib/countertop is the postinst's), the touch rule. ---
kiosk="$root/usr/bin/countertop"
"$kiosk" --version | grep -qx "countertop [0-9.]*" || fail "countertop --version: $("$kiosk" --version)"
frame=$("$kiosk" --config "$kiosk_toml" --data "$work/kiosk" first-frame 2>"$work/first-frame.err") \
    || fail "countertop first-frame: $(cat "$work/first-frame.err")"
grep -Eq '^first frame 1280x800 in [0-9.]+ ms \([1-9][0-9]* coloured pixels\)$' <<<"$frame" \
    || fail "countertop first-frame: $frame"
[ -f "$work/kiosk/countertop.db" ] || fail "first-frame made no database in $work/kiosk"
sed 's/^rotation = 0$/rotation = 90/' "$kiosk_toml" >"$work/turned.toml"
COUNTERTOP_BIN="$kiosk" COUNTERTOP_UDEV_RULES_DIR="$work/rules" \
    "$root/usr/lib/countertop/apply-display" "$work/turned.toml" >/dev/null
grep -q 'LIBINPUT_CALIBRATION_MATRIX}="0 1 0 -1 0 1"' "$work/rules/99-countertop-touch.rules" \
    || fail "apply-display wrote: $(cat "$work/rules/99-countertop-touch.rules")"
echo "==> installed kiosk: $("$kiosk" --version); $frame"

# --- The installed HQ serves. ---
"$root/usr/bin/countertop-hq" --version >/dev/null
"$root/usr/bin/countertop-hq" --database "sqlite:$work/hq.db" serve --listen 127.0.0.1:0 \
    >"$work/hq.out" 2>"$work/hq.err" &
hq_pid=$!
address=
for _ in $(seq 100); do
    address=$(grep -Eo '[0-9.]+:[0-9]+' "$work/hq.out" | head -1 || true)
    [ -n "$address" ] && break
    sleep 0.1
done
[ -n "$address" ] || fail "countertop-hq did not say where it listens: $(cat "$work/hq.err")"
curl -fsS "http://$address/healthz" >/dev/null || fail "installed countertop-hq does not answer /healthz"
echo "==> installed HQ answers http://$address/healthz"

echo "==> ci-package: passed in $((SECONDS - started)) s"
