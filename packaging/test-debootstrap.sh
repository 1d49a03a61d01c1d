#!/usr/bin/env bash
# The kiosk package's whole life cycle in a fresh Debian bookworm made by debootstrap, with
# its maintainer scripts run for real (CI's scripts/ci-package.sh only unpacks it):
#   install an older version, upgrade over it, run the kiosk as its user, remove (data and
#   kiosk.toml kept), reinstall (enabled again), purge (data gone).
# Needs root, debootstrap and a Debian mirror; takes a few minutes, mostly debootstrap.
#
#   sudo apt-get install debootstrap
#   ./dev.sh package
#   sudo packaging/test-debootstrap.sh target/debian/countertop_0.1.0-1_amd64.deb
#
# BASE_ROOT=DIR copies a root made before (`debootstrap --variant=minbase
# --include=systemd,udev,passwd bookworm DIR`) instead of debootstrapping again.
set -euo pipefail

deb=$(realpath "${1:?usage: packaging/test-debootstrap.sh COUNTERTOP_DEB}")
mirror=${MIRROR:-http://deb.debian.org/debian}
[ "$(id -u)" -eq 0 ] || { echo "run as root (debootstrap and chroot)" >&2; exit 2; }
command -v debootstrap >/dev/null || { echo "apt-get install debootstrap" >&2; exit 2; }

root=$(mktemp -d /var/tmp/countertop-debootstrap.XXXXXX)
cleanup() {
    umount "$root/proc" 2>/dev/null || true
    rm -rf "$root"
}
trap cleanup EXIT
fail() {
    echo "test-debootstrap: FAIL: $*" >&2
    exit 1
}
in_root() {
    chroot "$root" env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin HOME=/root LANG=C.UTF-8 \
        DEBIAN_FRONTEND=noninteractive "$@"
}

started=$SECONDS
if [ -n "${BASE_ROOT:-}" ]; then
    echo "==> copy $BASE_ROOT into $root"
    cp -a "$BASE_ROOT/." "$root/"
else
    echo "==> debootstrap bookworm into $root"
    debootstrap --variant=minbase --include=systemd,udev,passwd bookworm "$root" "$mirror" >/dev/null
fi
mount -t proc proc "$root/proc" 2>/dev/null || true
echo "    ($((SECONDS - started)) s)"

# An "older version": the same package relabelled 0.0.1-1, so the upgrade path runs.
old=$(mktemp -d)
dpkg-deb -R "$deb" "$old/pkg"
sed -i 's/^Version: .*/Version: 0.0.1-1/' "$old/pkg/DEBIAN/control"
dpkg-deb -b "$old/pkg" "$root/tmp/countertop_old.deb" >/dev/null
rm -rf "$old"
cp "$deb" "$root/tmp/countertop_new.deb"

echo "==> install the older version (apt fetches the dependencies)"
in_root apt-get update -qq
in_root apt-get install -y -qq /tmp/countertop_old.deb >/dev/null
in_root getent passwd countertop >/dev/null || fail "no countertop user"
for group in video input render; do
    in_root id -nG countertop | tr ' ' '\n' | grep -qx "$group" || fail "countertop is not in $group"
done
# stat inside the root: its user ids are not the host's.
data_mode=$(in_root stat -c '%a %U %G' /var/lib/countertop)
[ "$data_mode" = "700 countertop countertop" ] || fail "/var/lib/countertop is $data_mode"
[ -f "$root/etc/udev/rules.d/99-countertop-touch.rules" ] || fail "no touch rule"
in_root systemctl is-enabled --quiet countertop.service || fail "countertop.service not enabled"

echo "==> the kiosk runs as its user and keeps ratings"
in_root runuser -u countertop -- countertop --config /etc/countertop/kiosk.toml \
    record-ratings --count 3 | wc -l | grep -qx 3 || fail "record-ratings"
in_root runuser -u countertop -- countertop --config /etc/countertop/kiosk.toml first-frame

echo "==> upgrade to $(basename "$deb")"
echo "# a local change" >>"$root/etc/countertop/kiosk.toml"
in_root apt-get install -y -qq /tmp/countertop_new.deb >/dev/null
grep -q "# a local change" "$root/etc/countertop/kiosk.toml" || fail "the upgrade lost kiosk.toml's change"
in_root runuser -u countertop -- countertop --config /etc/countertop/kiosk.toml first-frame
[ "$(in_root getent group countertop | cut -d: -f1)" = countertop ] || fail "group gone"

echo "==> remove: the data and kiosk.toml stay"
in_root apt-get remove -y -qq countertop >/dev/null
[ -f "$root/var/lib/countertop/countertop.db" ] || fail "remove deleted the database"
[ -f "$root/etc/countertop/kiosk.toml" ] || fail "remove deleted kiosk.toml"
[ ! -e "$root/etc/udev/rules.d/99-countertop-touch.rules" ] || fail "remove left the touch rule"
! in_root systemctl is-enabled --quiet countertop.service 2>/dev/null || fail "still enabled"

echo "==> reinstall: enabled again, on the same database"
in_root apt-get install -y -qq /tmp/countertop_new.deb >/dev/null
in_root systemctl is-enabled --quiet countertop.service || fail "not enabled after a reinstall"
in_root runuser -u countertop -- countertop --config /etc/countertop/kiosk.toml first-frame

echo "==> purge: the data goes"
in_root apt-get purge -y -qq countertop >/dev/null
[ ! -e "$root/var/lib/countertop" ] || fail "purge left /var/lib/countertop"
[ ! -e "$root/etc/countertop" ] || fail "purge left /etc/countertop"

echo "==> test-debootstrap: passed in $((SECONDS - started)) s"
