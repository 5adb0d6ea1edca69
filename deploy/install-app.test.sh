#!/usr/bin/env bash
# Tests for deploy/: install-app.sh and install-all.sh run into a scratch BERTH_PREFIX, BERTH_ETC and
# SYSTEMD_DIR, on fake artifacts made here; a fake `systemctl` on PATH records what would have been
# asked of systemd. Also checks the unit files (and runs `systemd-analyze verify` when it exists)
# and, inside the monorepo, that deploy/config/daemon.json passes Berth's own config loader.
#
# usage: deploy/install-app.test.sh        prints one `ok` line per check; exit 1 if any failed
set -uo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
install=$here/install-app.sh
t=$(mktemp -d)
trap 'rm -rf "$t"' EXIT
export BERTH_PREFIX=$t/lib BERTH_ETC=$t/etc SYSTEMD_DIR=$t/units
lib=$t/lib

failures=0
ok() { printf 'ok - %s\n' "$1"; }
not_ok() { printf 'not ok - %s\n' "$1"; [ $# -lt 2 ] || printf '  %s\n' "$2"; failures=$((failures + 1)); }
check() { # check <description> <command...>: passes when the command succeeds
  local what=$1; shift
  if "$@"; then ok "$what"; else not_ok "$what"; fi
}
# run <expected status> <args...>: runs install-app.sh, output kept in $t/out
run() {
  local want=$1 got; shift
  "$install" "$@" >"$t/out" 2>&1
  got=$?
  if [ "$got" != "$want" ]; then
    not_ok "install-app.sh $* exits $want" "exited $got: $(tr '\n' ' ' <"$t/out")"
    return 1
  fi
}
said() { grep -qF -- "$1" "$t/out"; }
not() { ! "$@"; }
has() { # has <unit file> <exact lines...>
  local u=$1 line; shift
  for line in "$@"; do grep -qx -- "$line" "$u" || return 1; done
}
same_units() { # every file of deploy/systemd is installed, byte for byte
  local u
  for u in "$here"/systemd/*; do cmp -s "$u" "$t/units/$(basename "$u")" || return 1; done
}
# artifact <app> <version> [extra text]: a fake dist/apps/<app> folder; prints its path
artifact() {
  local d=$t/art/$1-$2-${3:-x}
  mkdir -p "$d/node_modules/dep"
  printf 'console.log("%s %s %s")\n' "$1" "$2" "${3:-}" >"$d/main.js"
  printf '{}\n' >"$d/main.js.map"
  printf 'module.exports = 1\n' >"$d/node_modules/dep/index.js"
  printf '{"name":"@berth/%s","version":"%s","private":true,"main":"main.js"}\n' "$1" "$2" >"$d/package.json"
  printf '%s\n' "$d"
}
no_stage_left() { [ -z "$(find "$lib" -name '.stage.*' -o -name '.current.*' | head -n 1)" ]; }

# --- first install, upgrade, config kept --------------------------------------------------------
if run 0 --no-restart gateway "$(artifact gateway 1.0.0)"; then
  check "1.0.0 installed in its version dir, with nested files" \
    test -f "$lib/gateway/1.0.0/main.js" -a -f "$lib/gateway/1.0.0/package.json" -a -f "$lib/gateway/1.0.0/node_modules/dep/index.js"
  check "current is a relative symlink to 1.0.0" test "$(readlink "$lib/gateway/current")" = 1.0.0
  check "berth-gateway.service installed" cmp -s "$here/systemd/berth-gateway.service" "$t/units/berth-gateway.service"
  check "shared units (berth.target, berth-redis.service) installed with it" \
    test -f "$t/units/berth.target" -a -f "$t/units/berth-redis.service"
  check "no other app's unit installed" test ! -e "$t/units/berth-images.service"
  check "daemon.json installed from deploy/config" cmp -s "$here/config/daemon.json" "$t/etc/daemon.json"
  check "no staging leftovers" no_stage_left
fi
echo '{"data-root":"/srv/berth-mine"}' >"$t/etc/daemon.json"
if run 0 --no-restart gateway "$(artifact gateway 1.1.0)"; then
  check "current points at 1.1.0 after the upgrade" test "$(readlink "$lib/gateway/current")" = 1.1.0
  check "current resolves to the new main.js" grep -q '"gateway 1.1.0' "$lib/gateway/current/main.js"
  check "1.0.0 kept without --prune" test -f "$lib/gateway/1.0.0/main.js"
  check "existing daemon.json not overwritten" grep -q /srv/berth-mine "$t/etc/daemon.json"
  check "the script says it kept daemon.json" said "kept existing $t/etc/daemon.json"
  check "unchanged unit not reinstalled" not said "installed $t/units"
fi

# --- same version again, --force, rollback, prune -----------------------------------------------
run 0 --no-restart gateway "$(artifact gateway 1.1.0)" && check "identical reinstall is accepted" said "already installed"
if run 1 --no-restart gateway "$(artifact gateway 1.1.0 rebuilt)"; then
  check "same version, other content: refused with a reason" said "with different content"
  check "... and the installed copy is untouched" grep -q '"gateway 1.1.0 "' "$lib/gateway/1.1.0/main.js"
fi
run 0 --no-restart --force gateway "$(artifact gateway 1.1.0 rebuilt)" &&
  check "--force replaces a version's content" grep -q 'rebuilt' "$lib/gateway/current/main.js"
run 0 --no-restart gateway "$lib/gateway/1.0.0" &&
  check "rollback: reinstalling an installed version dir repoints current" test "$(readlink "$lib/gateway/current")" = 1.0.0
run 0 --no-restart gateway "$(artifact gateway 1.1.0 rebuilt)"
if run 0 --no-restart --prune gateway "$(artifact gateway 1.1.0 rebuilt)"; then
  check "--prune removes the old version" test ! -e "$lib/gateway/1.0.0"
  # Regression: a glob over <app>/*/ also matched current/ and emptied the live version through it.
  check "--prune leaves the current version's files in place" test -f "$lib/gateway/current/main.js" -a -f "$lib/gateway/1.1.0/package.json"
  check "--prune keeps the current symlink" test -L "$lib/gateway/current"
fi

# --- the shim ------------------------------------------------------------------------------------
run 0 --no-restart shim "$(artifact shim 2.0.0)"
if run 0 --no-restart --prune shim "$(artifact shim 2.1.0)"; then
  check "shim: current points at 2.1.0" test "$(readlink "$lib/shim/current")" = 2.1.0
  check "shim: --prune never removes a version" test -f "$lib/shim/2.0.0/main.js"
  check "shim: --prune says why it is ignored" said "--prune ignored for the shim"
  check "shim: no unit installed for it" test ! -e "$t/units/berth-shim.service"
fi
run 1 --no-restart --force shim "$(artifact shim 2.0.0 rebuilt)" &&
  check "shim: a version is never replaced, even with --force" grep -q '"shim 2.0.0 "' "$lib/shim/2.0.0/main.js"

# --- .tgz artifacts -------------------------------------------------------------------------------
tar -czf "$t/flat.tgz" -C "$(artifact supervisor 3.0.0)" .
run 0 --no-restart supervisor "$t/flat.tgz" &&
  check ".tgz with the files at its top" test "$(readlink "$lib/supervisor/current")" = 3.0.0 -a -f "$lib/supervisor/3.0.0/main.js"
d=$(artifact supervisor 3.1.0)
tar -czf "$t/folder.tgz" -C "$(dirname "$d")" "$(basename "$d")"
run 0 --no-restart supervisor "$t/folder.tgz" &&
  check ".tgz with one folder at its top" test -f "$lib/supervisor/3.1.0/main.js" -a -f "$lib/supervisor/3.1.0/node_modules/dep/index.js"
check "supervisor unit installed" test -f "$t/units/berth-supervisor.service"

# --- bad input -----------------------------------------------------------------------------------
run 2 --no-restart nosuch "$(artifact gateway 1.0.0)" && check "unknown app: exit 2 and a clear message" said "unknown app 'nosuch' (known apps: gateway images snapshotter supervisor netproxy builder shim)"
run 2 --no-restart redis "$(artifact gateway 1.0.0)" && check "redis is not an installable app" said "unknown app 'redis'"
run 2 --no-restart images "$(artifact gateway 1.0.0)" && check "artifact of another app refused" said "is @berth/gateway, not @berth/images"
run 2 --no-restart gateway "$t/nowhere" && check "missing artifact refused" said "does not exist"
mkdir -p "$t/empty"
run 2 --no-restart gateway "$t/empty" && check "folder without main.js refused" said "is not an app artifact"
echo 'not a tarball' >"$t/junk.tgz"
run 2 --no-restart gateway "$t/junk.tgz" && check "broken .tgz refused" said "cannot unpack"
d=$(artifact gateway 9.9.9 evil)
printf '{"name":"@berth/gateway","version":"../../escape"}\n' >"$d/package.json"
run 2 --no-restart gateway "$d" && check "a version that is not a semver is refused (it becomes a path)" said "a semver like 1.2.3 is expected"
check "... and nothing escaped the prefix" test ! -e "$t/escape"
run 2 --bogus gateway "$d" && check "unknown option refused" said "unknown option '--bogus'"
run 2 --no-restart gateway && check "missing artifact argument refused" said "usage:"
check "no staging leftovers after failures" no_stage_left

# --- with systemd (a fake systemctl that records its calls) --------------------------------------
mkdir -p "$t/bin"
printf '#!/bin/sh\necho "$*" >>"%s"\n' "$t/systemctl.log" >"$t/bin/systemctl"
chmod +x "$t/bin/systemctl"
calls() { cat "$t/systemctl.log" 2>/dev/null | tr '\n' ';'; }
: >"$t/systemctl.log"
PATH=$t/bin:$PATH run 0 netproxy "$(artifact netproxy 4.0.0)" &&
  check "a service upgrade reloads systemd and restarts only its unit" \
    test "$(calls)" = "daemon-reload;reset-failed berth-netproxy.service;restart berth-netproxy.service;"
: >"$t/systemctl.log"
PATH=$t/bin:$PATH run 0 shim "$(artifact shim 2.2.0)" &&
  check "a shim upgrade restarts nothing" test "$(calls)" = "daemon-reload;"
: >"$t/systemctl.log"
PATH=$t/bin:$PATH run 0 --prune netproxy "$(artifact netproxy 4.1.0)" &&
  check "--prune runs after the restart" test "$(calls)" = "daemon-reload;reset-failed berth-netproxy.service;restart berth-netproxy.service;" -a ! -e "$lib/netproxy/4.0.0"
: >"$t/systemctl.log"
PATH=$t/bin:$PATH run 0 --no-restart images "$(artifact images 5.0.0)" &&
  check "--no-restart calls no systemctl" test -z "$(calls)"
# The same build twice: install-all installs seven apps and drives systemd once.
for app in gateway images snapshotter supervisor netproxy builder shim; do
  mkdir -p "$t/dist"
  cp -R "$(artifact "$app" 7.0.0)" "$t/dist/$app"
done
: >"$t/systemctl.log"
if PATH=$t/bin:$PATH "$here/install-all.sh" "$t/dist" >"$t/out" 2>&1; then
  ok "install-all.sh installs a whole dist/apps"
  all=1
  for app in gateway images snapshotter supervisor netproxy builder shim; do
    [ "$(readlink "$lib/$app/current")" = 7.0.0 ] || all=0
  done
  check "install-all: every app's current is 7.0.0" test $all = 1
  want="daemon-reload;enable berth.target berth-redis.service berth-snapshotter.service berth-images.service berth-netproxy.service berth-supervisor.service berth-builder.service berth-gateway.service;start berth-redis.service;"
  for u in snapshotter images netproxy supervisor builder gateway; do want+="reset-failed berth-$u.service;restart berth-$u.service;"; done
  want+="start berth.target;"
  check "install-all: enables the target, restarts services in dependency order, never restarts redis" test "$(calls)" = "$want"
  check "install-all: every unit file installed" same_units
else
  not_ok "install-all.sh installs a whole dist/apps" "$(tr '\n' ' ' <"$t/out")"
fi
if PATH=$t/bin:$PATH "$here/install-all.sh" --no-restart --prune "$t/dist" >"$t/out" 2>&1; then
  check "install-all --prune removes old service versions, keeps every shim" \
    test ! -e "$lib/gateway/1.1.0" -a ! -e "$lib/netproxy/4.1.0" -a -e "$lib/shim/2.0.0" -a -e "$lib/gateway/7.0.0"
else
  not_ok "install-all.sh --no-restart --prune" "$(tr '\n' ' ' <"$t/out")"
fi
mv "$t/dist/images" "$t/images-away"
PATH=$t/bin:$PATH "$here/install-all.sh" "$t/dist" >"$t/out" 2>&1
rc=$?
check "install-all refuses an incomplete dist/apps" test "$rc" = 2 -a -n "$(grep 'lacks: images' "$t/out")"

# --- unit files ----------------------------------------------------------------------------------
units=$here/systemd
for app in gateway images snapshotter supervisor netproxy builder; do
  u=$units/berth-$app.service
  check "berth-$app.service: ExecStart runs current/main.js with /etc/berth/daemon.json" \
    grep -qx "ExecStart=/usr/bin/node --max-semi-space-size=1 /usr/lib/berth/$app/current/main.js --config /etc/berth/daemon.json" "$u"
  check "berth-$app.service: Type=simple, Restart=always, RestartSec=2" has "$u" Type=simple Restart=always RestartSec=2
done
for u in "$units"/berth-*.service; do
  check "$(basename "$u"): PartOf= and WantedBy=berth.target" has "$u" PartOf=berth.target WantedBy=berth.target
done
check "supervisor: KillMode=process, Delegate=yes, TasksMax=infinity" \
  has "$units/berth-supervisor.service" KillMode=process Delegate=yes TasksMax=infinity
check "netproxy: KillMode=process" grep -qx KillMode=process "$units/berth-netproxy.service"
for app in gateway images snapshotter; do
  check "berth-$app.service keeps the default KillMode" not grep -q '^KillMode=' "$units/berth-$app.service"
done
after() { grep '^After=' "$units/berth-$1.service" | grep -qw "berth-$2.service"; }
after_all() { # after_all <app> <app it must start after...>
  local a=$1 b; shift
  for b in "$@"; do after "$a" "$b" || return 1; done
}
after_redis() { local a; for a in gateway images snapshotter supervisor netproxy; do after "$a" redis || return 1; done; }
check "ordering: every service after redis" after_redis
check "ordering: supervisor after images, snapshotter, netproxy" after_all supervisor images snapshotter netproxy
check "ordering: images after snapshotter (it unpacks through it)" after_all images snapshotter
check "ordering: gateway after every other service" after_all gateway images snapshotter supervisor netproxy
check "redis: the socket, dir and AOF settings the services expect" \
  grep -q '^ExecStart=/usr/bin/redis-server --unixsocket /run/berth/redis.sock --unixsocketperm 600 --port 0 --dir /var/lib/berth/redis --appendonly yes' "$units/berth-redis.service"
check "redis: /run/berth survives a Redis stop" grep -qx RuntimeDirectoryPreserve=yes "$units/berth-redis.service"
if command -v systemd-analyze >/dev/null; then
  # verify warns about unknown keys but still exits 0, so any output counts as a failure.
  if out=$(systemd-analyze verify --man=no "$units"/*.service "$units"/berth.target 2>&1) && [ -z "$out" ]; then
    ok "systemd-analyze verify: no findings"
  else
    not_ok "systemd-analyze verify" "$out"
  fi
else
  ok "systemd-analyze not installed: verify skipped # SKIP"
fi

# --- daemon.json ---------------------------------------------------------------------------------
check "daemon.json is valid JSON" node -e 'JSON.parse(require("fs").readFileSync(process.argv[1], "utf8"))' "$here/config/daemon.json"
repo=$(cd "$here/.." && pwd)
if [ -x "$repo/node_modules/.bin/tsx" ] && [ -f "$repo/libs/config/src/config.ts" ]; then
  cat >"$t/config-check.ts" <<'EOF'
import { loadConfig } from '@berth/config';
// The shipped file must be accepted as is, state the built-in defaults, and name the Redis that
// berth-redis.service runs (so no service starts a private one).
const shipped = loadConfig(['--config', process.argv[2]!]).config;
const builtIn = loadConfig([]).config;
// Deliberate: like most Docker installs, the shipped file caps json-file logs (10m x 3), where the
// built-in default, as dockerd's, leaves them unbounded; and under systemd nothing holds the
// builder's socket, so the shipped file runs it from boot (not on demand).
const differOnPurpose = new Set(['logOpts', 'privateRedis', 'configFile', 'onDemandServices']);
const problems: string[] = [];
for (const [k, v] of Object.entries(builtIn)) {
  if (differOnPurpose.has(k)) continue;
  if (JSON.stringify(v) !== JSON.stringify(shipped[k as keyof typeof shipped])) problems.push(`${k} differs from the built-in default`);
}
if (shipped.privateRedis) problems.push('no "redis" set: the suite would start a private Redis beside berth-redis.service');
if (shipped.redis !== 'unix:///run/berth/redis.sock') problems.push(`redis is ${shipped.redis}`);
if (JSON.stringify(shipped.logOpts) !== '{"max-size":"10m","max-file":"3"}') problems.push('log-opts should cap logs at 10m x 3');
if (shipped.onDemandServices.length) problems.push(`on demand under systemd, where nothing holds their sockets: ${shipped.onDemandServices.join(', ')}`);
if (problems.length) {
  console.error(problems.join('\n'));
  process.exit(1);
}
EOF
  if out=$(cd "$repo" && node_modules/.bin/tsx --tsconfig tsconfig.base.json "$t/config-check.ts" "$here/config/daemon.json" 2>&1); then
    ok "daemon.json passes @berth/config and states its defaults, with the berth-redis socket"
  else
    not_ok "daemon.json against @berth/config" "$out"
  fi
else
  ok "not inside the monorepo: @berth/config check skipped # SKIP"
fi

# A release artifact of one app, made by the real release script from the real build, installs
# alone; a checksum that does not match is refused.
if [ -f "$here/../tools/release/release.sh" ] && [ -f "$here/../dist/apps/netproxy/main.js" ]; then
  repo=$(cd "$here/.." && pwd)
  ver=$(node -p "require('$repo/apps/netproxy/package.json').version")
  if out=$(bash "$repo/tools/release/release.sh" netproxy 2>&1); then
    tgz=$repo/dist/release/netproxy-$ver.tgz
    check "release: netproxy $ver artifact and checksum" test -f "$tgz" -a -f "$tgz.sha256"
    check "release: checksum matches" sh -c "cd '$repo/dist/release' && sha256sum -c --quiet 'netproxy-$ver.tgz.sha256'"
    check "release: the artifact carries the bundle, its package.json and its unit" sh -c "tar -tzf '$tgz' | grep -qx 'netproxy/main.js' && tar -tzf '$tgz' | grep -qx 'netproxy/package.json' && tar -tzf '$tgz' | grep -qx 'netproxy/berth-netproxy.service'"
    run 0 --no-restart netproxy "$tgz"
    check "release: install-app.sh installs the released netproxy $ver" test -f "$lib/netproxy/$ver/main.js" -a "$(readlink "$lib/netproxy/current")" = "$ver"
    cp "$tgz" "$t/netproxy-bad.tgz"
    echo "0000000000000000000000000000000000000000000000000000000000000000  netproxy-bad.tgz" >"$t/netproxy-bad.tgz.sha256"
    run 1 --no-restart --force netproxy "$t/netproxy-bad.tgz"
    check "release: an artifact that does not match its checksum is refused" grep -q 'does not match its checksum' "$t/out"
  else
    not_ok "release.sh netproxy" "$out"
  fi
  check "release: an unknown app is a usage error" sh -c "bash '$repo/tools/release/release.sh' nosuch >/dev/null 2>&1; test \$? -eq 2"
fi

if [ $failures -gt 0 ]; then
  echo "FAILED: $failures check(s)"
  exit 1
fi
echo "all deploy checks passed"
