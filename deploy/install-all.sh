#!/usr/bin/env bash
# Installs or upgrades every Berth app from a dist/apps directory (`npx nx run-many -t build`),
# enables berth.target and its units, and (re)starts the suite.
#
# usage: install-all.sh [--no-restart] [--prune] [dist/apps]    (default: ../dist/apps from here)
#
# Each app goes through install-app.sh --no-restart; systemd is then driven once, here. Services
# are restarted one by one in dependency order; the supervisor's restart leaves containers running
# (KillMode=process). Redis is started if it is not running, never restarted.
# Same environment overrides as install-app.sh (BERTH_PREFIX, BERTH_ETC, SYSTEMD_DIR).
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# The shim first, so the restarted supervisor already finds the new one for new containers.
readonly ORDER=(shim snapshotter images netproxy supervisor builder gateway)

restart=1
prune=0
dist=
while [ $# -gt 0 ]; do
  case $1 in
    --no-restart) restart=0 ;;
    --prune) prune=1 ;;
    -h | --help) sed -n '2,/^set -euo/{/^set -euo/d;s/^# \{0,1\}//;p}' "${BASH_SOURCE[0]}"; exit 0 ;;
    -*) echo "install-all: error: unknown option '$1'" >&2; exit 2 ;;
    *) [ -z "$dist" ] || { echo "install-all: error: more than one dist directory given" >&2; exit 2; }; dist=$1 ;;
  esac
  shift
done
dist=${dist:-$here/../dist/apps}
[ -d "$dist" ] || { echo "install-all: error: no build output at $dist (run: npx nx run-many -t build)" >&2; exit 2; }

missing=()
for app in "${ORDER[@]}"; do [ -d "$dist/$app" ] || missing+=("$app"); done
[ ${#missing[@]} -eq 0 ] || { echo "install-all: error: $dist lacks: ${missing[*]}" >&2; exit 2; }

for app in "${ORDER[@]}"; do
  "$here/install-app.sh" --no-restart "$app" "$dist/$app"
done

# Old versions go only once the services run the new ones (install-app.sh does the same).
prune_old() {
  [ $prune -eq 1 ] || return 0
  local app out
  for app in "${ORDER[@]}"; do
    [ "$app" != shim ] || continue
    out=$("$here/install-app.sh" --no-restart --prune "$app" "$dist/$app")
    grep -F pruned <<<"$out" || true
  done
}

if [ $restart -eq 0 ]; then
  prune_old
  echo "install-all: systemd left alone (--no-restart); to start: systemctl daemon-reload && systemctl enable --now berth.target"
  exit 0
fi
command -v systemctl >/dev/null || { echo "install-all: error: systemctl not found: use --no-restart on hosts without systemd" >&2; exit 1; }
systemctl daemon-reload
services=()
for app in "${ORDER[@]}"; do [ "$app" = shim ] || services+=("berth-$app.service"); done
systemctl enable berth.target berth-redis.service "${services[@]}"
systemctl start berth-redis.service
for unit in "${services[@]}"; do
  systemctl reset-failed "$unit" 2>/dev/null || true
  systemctl restart "$unit"
  echo "install-all: restarted $unit"
done
systemctl start berth.target
echo "install-all: berth.target is up"
prune_old
