#!/usr/bin/env bash
# verify.sh -- systemd-analyze verify on the configured units (CTest systemd.verify).
# Usage: verify.sh SYSTEMD_ANALYZE UNIT_DIR BUILT_HOOKD INSTALLED_HOOKD
# verify insists that ExecStart's binary exists: a copy of the units points it at the built
# hookd. Man pages are not installed in a build tree: --man=no.
set -euo pipefail
analyze=$1 units=$2 built=$3 installed=$4
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
grep -q "^ExecStart=$installed " "$units/hookd.service" ||
    { echo "verify.sh: ExecStart of $units/hookd.service is not $installed"; exit 1; }
if grep -n '@[A-Z_]*@' "$units/hookd.service"; then echo "verify.sh: unconfigured @VAR@"; exit 1; fi
sed "s|^ExecStart=$installed |ExecStart=$built |" "$units/hookd.service" >"$tmp/hookd.service"
cp "$units/hookd.socket" "$tmp/hookd.socket"
out=$("$analyze" verify --man=no "$tmp/hookd.socket" "$tmp/hookd.service" 2>&1) || {
    echo "$out"; echo "verify.sh: systemd-analyze verify failed"; exit 1; }
# verify exits 0 on some warnings: any output is a finding.
if [ -n "$out" ]; then echo "$out"; echo "verify.sh: systemd-analyze verify complained"; exit 1; fi
echo "systemd-analyze verify: hookd.socket hookd.service clean"
