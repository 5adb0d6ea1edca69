#!/usr/bin/env bash
# Exercises install-app.sh in a scratch prefix without systemd: versions side by side, the
# current link, units and config installed once, bad input refused.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
t=$(mktemp -d)
trap 'rm -rf "$t"' EXIT
export BERTH_PREFIX=$t/lib BERTH_ETC=$t/etc SYSTEMD_DIR=$t/units
fail() { echo "FAIL: $*" >&2; exit 1; }
artifact() { mkdir -p "$t/a/$1-$2"; echo 'console.log(1)' > "$t/a/$1-$2/main.js"; echo "{\"name\":\"@berth/$1\",\"version\":\"$2\"}" > "$t/a/$1-$2/package.json"; echo "$t/a/$1-$2"; }

"$here/install-app.sh" --no-restart gateway "$(artifact gateway 1.0.0)" >/dev/null
[ -f "$t/lib/gateway/1.0.0/main.js" ] || fail "version dir missing"
[ "$(readlink "$t/lib/gateway/current")" = 1.0.0 ] || fail "current does not point at 1.0.0"
[ -f "$t/units/berth-gateway.service" ] || fail "unit not installed"
[ -f "$t/etc/daemon.json" ] || fail "daemon.json not installed"
echo '{"data-root":"/mine"}' > "$t/etc/daemon.json"
"$here/install-app.sh" --no-restart gateway "$(artifact gateway 1.1.0)" >/dev/null
[ "$(readlink "$t/lib/gateway/current")" = 1.1.0 ] || fail "current does not point at 1.1.0"
[ -d "$t/lib/gateway/1.0.0" ] || fail "old version removed without --prune"
grep -q /mine "$t/etc/daemon.json" || fail "daemon.json overwritten"
"$here/install-app.sh" --no-restart --prune gateway "$(artifact gateway 1.1.0)" >/dev/null
[ ! -d "$t/lib/gateway/1.0.0" ] || fail "--prune kept the old version"
"$here/install-app.sh" --no-restart shim "$(artifact shim 2.0.0)" >/dev/null
"$here/install-app.sh" --no-restart --prune shim "$(artifact shim 2.1.0)" >/dev/null
[ -d "$t/lib/shim/2.0.0" ] || fail "an old shim version was pruned"
tar -czf "$t/sup.tgz" -C "$(artifact supervisor 3.0.0)" .
"$here/install-app.sh" --no-restart supervisor "$t/sup.tgz" >/dev/null
[ "$(readlink "$t/lib/supervisor/current")" = 3.0.0 ] || fail ".tgz artifact not installed"
grep -q '^KillMode=process' "$t/units/berth-supervisor.service" || fail "supervisor unit without KillMode=process"
if "$here/install-app.sh" --no-restart nosuch "$(artifact gateway 1.0.0)" 2>"$t/err"; then fail "unknown app accepted"; fi
grep -q "unknown app 'nosuch'" "$t/err" || fail "no clear message for an unknown app"
if "$here/install-app.sh" --no-restart images "$(artifact gateway 1.0.0)" 2>"$t/err"; then fail "wrong artifact accepted"; fi
grep -q "not @berth/images" "$t/err" || fail "no clear message for a wrong artifact"
echo "ok: deploy scripts (install, upgrade, prune, shim kept, tgz, bad input)"
