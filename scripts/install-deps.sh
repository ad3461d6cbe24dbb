#!/bin/sh
# Install the Debian packages poolbench needs to build, test and draw charts.
# Does nothing when everything is present; uses sudo when not root; says plainly
# what to do when it cannot install.
set -eu

# command-or-header probe : package
pkgs="gcc g++ cmake make pkg-config libhwloc-dev libjansson-dev libcmocka-dev gnuplot-nox \
libglib2.0-dev libuv1-dev libtbb-dev libboost-dev libopenmpi-dev openmpi-bin libpython3-dev \
python3 python3-jsonschema"

missing=""
for p in $pkgs; do
    if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
        missing="$missing $p"
    fi
done

if [ -z "$missing" ]; then
    exit 0
fi

if ! command -v apt-get >/dev/null 2>&1; then
    echo "install-deps: missing packages:$missing; apt-get not found — install them with your system's package manager" >&2
    exit 1
fi

if [ "$(id -u)" -eq 0 ]; then
    SUDO=""
elif command -v sudo >/dev/null 2>&1; then
    SUDO="sudo"
else
    echo "install-deps: missing packages:$missing; run as root or install sudo" >&2
    exit 1
fi

echo "install-deps: installing$missing" >&2
export DEBIAN_FRONTEND=noninteractive
# Wait for another apt (a second make, unattended-upgrades on a fresh cloud
# machine) instead of failing on its lock.
apt="$SUDO apt-get -o DPkg::Lock::Timeout=600"
if ! $apt install -y --no-install-recommends $missing >/dev/null 2>&1; then
    $apt update -qq
    if ! $apt install -y --no-install-recommends $missing; then
        echo "install-deps: apt-get could not install:$missing" >&2
        exit 1
    fi
fi
