#!/bin/sh
# Installs Debian's Chromium for the browser tests (Playwright drives it via executable_path;
# Playwright's own browser download is not used). Idempotent: does nothing when it is present.
set -eu
if [ -x /usr/bin/chromium ]; then
    exit 0
fi
SUDO=""
if [ "$(id -u)" -ne 0 ]; then
    if command -v sudo >/dev/null 2>&1; then
        SUDO="sudo"
    else
        echo "install-browser: /usr/bin/chromium is missing and this user cannot install it (no root, no sudo);" >&2
        echo "the browser tests will be skipped" >&2
        exit 0
    fi
fi
echo "install-browser: installing Debian chromium"
if ! { $SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq chromium; }; then
    echo "install-browser: could not install chromium; the browser tests will be skipped" >&2
fi
