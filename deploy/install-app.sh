#!/usr/bin/env bash
# Installs or upgrades ONE Berth app from its build artifact (dist/apps/<app> or a .tgz of it),
# then restarts only that app's unit. Versions live side by side under $BERTH_PREFIX/<app>/<version>
# and `current` points at the active one; a shim version is never removed while containers may
# still run on it.
# usage: install-app.sh [--no-restart] [--prune] <app> <artifact dir | artifact.tgz>
set -euo pipefail
APPS=(gateway images snapshotter supervisor netproxy shim)
PREFIX=${BERTH_PREFIX:-/usr/lib/berth}
ETC=${BERTH_ETC:-/etc/berth}
UNITS=${SYSTEMD_DIR:-/etc/systemd/system}
here=$(cd "$(dirname "$0")" && pwd)
restart=1
prune=0
while [ $# -gt 0 ]; do
  case $1 in
    --no-restart) restart=0; shift ;;
    --prune) prune=1; shift ;;
    -*) echo "install-app: unknown option $1" >&2; exit 2 ;;
    *) break ;;
  esac
done
[ $# -eq 2 ] || { echo "usage: install-app.sh [--no-restart] [--prune] <app> <artifact dir | .tgz>" >&2; exit 2; }
app=$1
artifact=$2
known=0
for a in "${APPS[@]}"; do [ "$a" = "$app" ] && known=1; done
[ $known -eq 1 ] || { echo "install-app: unknown app '$app' (one of: ${APPS[*]})" >&2; exit 2; }
[ -e "$artifact" ] || { echo "install-app: no artifact at $artifact" >&2; exit 2; }

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
if [ -d "$artifact" ]; then cp -a "$artifact/." "$work/"; else tar -xzf "$artifact" -C "$work"; fi
[ -f "$work/main.js" ] && [ -f "$work/package.json" ] || { echo "install-app: $artifact is not an app artifact (main.js and package.json expected)" >&2; exit 2; }
version=$(node -e 'process.stdout.write(require(process.argv[1]).version)' "$work/package.json")
name=$(node -e 'process.stdout.write(require(process.argv[1]).name)' "$work/package.json")
[ "$name" = "@berth/$app" ] || { echo "install-app: artifact is $name, not @berth/$app" >&2; exit 2; }

mkdir -p "$PREFIX/$app"
dest="$PREFIX/$app/$version"
if [ ! -d "$dest" ]; then
  stage="$PREFIX/$app/.$version.$$"
  cp -a "$work" "$stage"
  mv -T "$stage" "$dest"
fi
ln -sfn "$version" "$PREFIX/$app/.current.$$"
mv -T "$PREFIX/$app/.current.$$" "$PREFIX/$app/current"
echo "installed $app $version at $dest"

mkdir -p "$ETC"
[ -f "$ETC/daemon.json" ] || { cp "$here/config/daemon.json" "$ETC/daemon.json"; echo "installed $ETC/daemon.json"; }
mkdir -p "$UNITS"
changed=0
for unit in "berth-$app.service" berth.target berth-redis.service; do
  src="$here/systemd/$unit"
  [ -f "$src" ] || continue
  if ! cmp -s "$src" "$UNITS/$unit"; then cp "$src" "$UNITS/$unit"; changed=1; echo "installed unit $unit"; fi
done

if [ $prune -eq 1 ] && [ "$app" != shim ]; then
  for d in "$PREFIX/$app"/*/; do
    v=$(basename "$d")
    [ "$v" = "$version" ] || { rm -rf "$d"; echo "pruned $app $v"; }
  done
fi

if [ $restart -eq 1 ] && [ "$app" != shim ]; then
  [ $changed -eq 1 ] && systemctl daemon-reload
  systemctl restart "berth-$app.service"
  echo "restarted berth-$app.service"
elif [ "$app" = shim ]; then
  echo "new containers will use shim $version; running ones keep their own"
fi
