#!/bin/sh
# Installs a Debian package when its program is missing: install-package.sh PACKAGE PROGRAM PURPOSE
# (e.g. chromium /usr/bin/chromium "the browser tests"). Idempotent: does nothing when PROGRAM is
# there. Without root or sudo, or when apt-get fails, it says so and exits 0: what needs the
# program then skips or falls back.
set -eu
package=$1
program=$2
purpose=$3
if [ -x "$program" ]; then
    exit 0
fi
SUDO=""
if [ "$(id -u)" -ne 0 ]; then
    if command -v sudo >/dev/null 2>&1; then
        SUDO="sudo"
    else
        echo "install-package: $program is missing and this user cannot install $package (no root, no sudo); $purpose will do without it" >&2
        exit 0
    fi
fi
echo "install-package: installing Debian $package for $purpose"
if ! { $SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "$package"; }; then
    echo "install-package: could not install $package; $purpose will do without it" >&2
fi
