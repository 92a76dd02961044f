#!/bin/sh
# Runs every test of luci-app-transferometer: the helpers and package checks (node) and the
# browser test (Debian's Chromium driven by playwright-core, the views served by tests/lucishim
# against the real binary). Installs what is missing: Chromium and openssl (apt; openssl makes the
# certificate of the https/wss test), node_modules (npm ci).
#
#   TRANSFEROMETER_BIN=/path/to/transferometer tests/run.sh
#
# TRANSFEROMETER_BIN         the binary to test the page against (required for the browser test:
#                            without it the browser test fails when CI is set, else it is skipped)
# TRANSFEROMETER_CONFIG_DIR  its config dir; if unset and we are root, tests/fixture-netns.sh builds
#                            a small namespace LAN with known traffic and uses that (it also sets
#                            TRANSFEROMETER_LIVE_ADDRESS and TRANSFEROMETER_TRAFFIC, for the tests
#                            that run the live feed of `transferometer daemon`)
# Extra arguments go to `node --test` (e.g. --test-name-pattern=sort).
set -eu
cd "$(dirname "$0")/.."

as_root() {
	if [ "$(id -u)" = 0 ]; then "$@"; elif command -v sudo >/dev/null; then sudo "$@"; else
		echo "run.sh: need root for: $*" >&2; return 1; fi
}

missing=""
command -v node >/dev/null || missing="$missing nodejs"
command -v npm >/dev/null || missing="$missing npm"
[ -x "${CHROMIUM:-/usr/bin/chromium}" ] || missing="$missing chromium"
command -v openssl >/dev/null || missing="$missing openssl"
if [ -n "$missing" ]; then
	echo "run.sh: installing$missing" >&2
	as_root apt-get update -qq
	as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $missing >/dev/null
fi

node -e 'process.exit(+process.versions.node.split(".")[0] >= 20 ? 0 : 1)' || {
	echo "run.sh: node $(node --version) is too old; playwright-core needs node 20 or later" >&2
	exit 1
}

if [ ! -d node_modules/playwright-core ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
	npm ci --no-audit --no-fund --loglevel=error
fi

if [ -n "${TRANSFEROMETER_BIN:-}" ] && [ -z "${TRANSFEROMETER_CONFIG_DIR:-}" ]; then
	if [ "$(id -u)" = 0 ] && command -v ip >/dev/null; then
		. ./tests/fixture-netns.sh
		trap fixture_down EXIT
		trap 'exit 130' INT TERM
		echo "run.sh: building a namespace LAN for the browser test" >&2
		fixture_up "$(readlink -f "$TRANSFEROMETER_BIN")"
	else
		echo "run.sh: TRANSFEROMETER_CONFIG_DIR is unset and the namespace fixture needs root and iproute2" >&2
	fi
fi

node --test "$@" tests/
