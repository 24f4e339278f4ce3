#!/bin/sh
# Installs Debian's Chromium for the browser tests (Playwright drives it via executable_path;
# Playwright's own browser download is not used). Idempotent: does nothing when it is present.
exec "$(dirname "$0")/install-package.sh" chromium /usr/bin/chromium "the browser tests (skipped without it)"
