#!/usr/bin/env bash
# Installs or upgrades ONE Berth app from its build artifact, then restarts only that app's unit.
#
# usage: install-app.sh [--no-restart] [--prune] [--force] <app> <artifact>
#
#   <app>         gateway | images | snapshotter | supervisor | netproxy | builder | shim
#   <artifact>    the app's build output (dist/apps/<app>: main.js, main.js.map, package.json,
#                 maybe node_modules/) or a .tgz of it, with those files at its top or in one folder
#                 (`npm run release -- <app>` makes one; a <artifact>.sha256 beside it is checked)
#   --no-restart  touch no systemd state: no daemon-reload, no restart (tests, staged upgrades)
#   --prune       afterwards, remove every other version of the app; ignored for the shim
#   --force       replace an installed version whose content differs (not for the shim)
#
# Layout: $BERTH_PREFIX/<app>/<version>/ holds each installed version side by side, and
# $BERTH_PREFIX/<app>/current is a relative symlink to the active one. A version directory appears
# by one rename and is never edited in place. The shim is special: the supervisor starts each new
# container's shim from what shim/current resolves to at that moment, and that shim keeps running
# from its own version directory for the container's whole life. So a shim upgrade restarts
# nothing, and shim versions are never removed by this script.
#
# Environment: BERTH_PREFIX (default /usr/lib/berth), BERTH_ETC (default /etc/berth),
# SYSTEMD_DIR (default /etc/systemd/system).
#
# Exit status: 0 done, 1 failed, 2 bad usage (unknown app or option, unusable artifact).
set -euo pipefail
umask 022

readonly APPS=(gateway images snapshotter supervisor netproxy builder shim)
PREFIX=${BERTH_PREFIX:-/usr/lib/berth}
ETC=${BERTH_ETC:-/etc/berth}
UNIT_DIR=${SYSTEMD_DIR:-/etc/systemd/system}
DEPLOY_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)

say() { printf 'install-app: %s\n' "$*"; }
die() { printf 'install-app: error: %s\n' "$*" >&2; exit 1; }
usage_error() {
  printf 'install-app: error: %s\n' "$*" >&2
  printf 'usage: install-app.sh [--no-restart] [--prune] [--force] <app> <artifact dir | artifact.tgz>\n' >&2
  exit 2
}

restart=1 prune=0 force=0
args=()
while [ $# -gt 0 ]; do
  case $1 in
    --no-restart) restart=0 ;;
    --prune) prune=1 ;;
    --force) force=1 ;;
    -h | --help) sed -n '2,/^set -euo/{/^set -euo/d;s/^# \{0,1\}//;p}' "${BASH_SOURCE[0]}"; exit 0 ;;
    --) shift; args+=("$@"); break ;;
    -*) usage_error "unknown option '$1'" ;;
    *) args+=("$1") ;;
  esac
  shift
done
[ ${#args[@]} -eq 2 ] || usage_error "expected an app and an artifact, got ${#args[@]} argument(s)"
app=${args[0]}
artifact=${args[1]}

known=0
for a in "${APPS[@]}"; do [ "$a" = "$app" ] && known=1; done
[ $known -eq 1 ] || usage_error "unknown app '$app' (known apps: ${APPS[*]})"
[ -e "$artifact" ] || usage_error "artifact '$artifact' does not exist"
command -v node >/dev/null || die "node is not on PATH; it is needed to read the artifact's package.json (and to run Berth)"

mkdir -p "$PREFIX/$app" 2>/dev/null || die "cannot create $PREFIX/$app (run as root, or set BERTH_PREFIX)"
[ -w "$PREFIX/$app" ] || die "cannot write to $PREFIX/$app (run as root, or set BERTH_PREFIX)"

# One install of an app at a time; installs of different apps may run side by side.
locked=0
if command -v flock >/dev/null; then
  exec 9>"$PREFIX/$app/.lock"
  flock -w 120 9 || die "another install of $app holds $PREFIX/$app/.lock"
  locked=1
fi

# Stage next to the destination, so that putting it in place is a rename on one filesystem.
work=$(mktemp -d "$PREFIX/$app/.stage.XXXXXX")
cleanup() { rm -rf -- "$work"; }
trap cleanup EXIT
mkdir "$work/x"
if [ -d "$artifact" ]; then
  cp -R -- "$artifact/." "$work/x/" || die "cannot copy $artifact"
else
  # A release artifact comes with its checksum (tools/release/release.sh): a mismatch is refused.
  if [ -f "$artifact.sha256" ]; then
    want=$(cut -d' ' -f1 <"$artifact.sha256")
    got=$(sha256sum <"$artifact" | cut -d' ' -f1)
    [ "$want" = "$got" ] || die "$artifact does not match its checksum $artifact.sha256"
  fi
  tar -xzf "$artifact" -C "$work/x" --no-same-owner --no-same-permissions 2>"$work/tar.err" ||
    usage_error "cannot unpack '$artifact' as a .tgz: $(head -n 3 "$work/tar.err")"
fi
root=$work/x
if [ ! -f "$root/main.js" ]; then
  # A .tgz made with `tar -czf gateway.tgz -C dist/apps gateway` has one folder at its top.
  shopt -s nullglob dotglob
  top=("$root"/*)
  shopt -u nullglob dotglob
  if [ ${#top[@]} -eq 1 ] && [ -d "${top[0]}" ] && [ ! -L "${top[0]}" ]; then root=${top[0]}; fi
fi
[ -f "$root/main.js" ] && [ -f "$root/package.json" ] ||
  usage_error "'$artifact' is not an app artifact: main.js and package.json expected at its top"

meta=$(node -e '
  const p = JSON.parse(require("fs").readFileSync(process.argv[1], "utf8"));
  const s = (v) => (typeof v === "string" ? v.replace(/\s/g, "") : "");
  process.stdout.write(s(p.name) + "\n" + s(p.version) + "\n");
' "$root/package.json" 2>"$work/node.err") || usage_error "cannot read $artifact/package.json: $(head -n 1 "$work/node.err")"
{ read -r name; read -r version; } <<<"$meta"
[ "$name" = "@berth/$app" ] || usage_error "'$artifact' is ${name:-an unnamed package}, not @berth/$app"
# The version becomes a path: accept only a plain semver (and so never "current" or "../x").
[[ $version =~ ^[0-9]+\.[0-9]+\.[0-9]+([-+][0-9A-Za-z.+-]+)?$ ]] ||
  usage_error "'$artifact' has version '$version'; a semver like 1.2.3 is expected"

dest=$PREFIX/$app/$version
if [ -e "$dest" ] || [ -L "$dest" ]; then
  if diff -rq --no-dereference -- "$root" "$dest" >/dev/null 2>&1; then
    say "$app $version is already installed at $dest"
  elif [ "$app" = shim ]; then
    die "shim $version is already installed with different content; running containers may use it, so it is never replaced: give the new build a new version"
  elif [ $force -eq 1 ]; then
    # Two renames: $dest is missing only between them, and current is repointed only after.
    mv -T -- "$dest" "$work/replaced"
    mv -T -- "$root" "$dest"
    say "replaced $app $version at $dest (--force)"
  else
    die "$app $version is already installed at $dest with different content: give the build a new version, or use --force"
  fi
else
  mv -T -- "$root" "$dest"
  say "installed $app $version at $dest"
fi

link=$PREFIX/$app/current
if [ -d "$link" ] && [ ! -L "$link" ]; then die "$link is a directory, not a symlink: move it aside first"; fi
previous=$(readlink -- "$link" 2>/dev/null || true)
ln -sfn -- "$version" "$work/current"
mv -T -- "$work/current" "$link"
if [ "$previous" = "$version" ]; then
  say "$link -> $version (unchanged)"
else
  say "$link -> $version (was ${previous:-none})"
fi

mkdir -p "$ETC"
if [ -e "$ETC/daemon.json" ]; then
  say "kept existing $ETC/daemon.json"
else
  cp -- "$DEPLOY_DIR/config/daemon.json" "$ETC/.daemon.json.$$"
  mv -T -- "$ETC/.daemon.json.$$" "$ETC/daemon.json"
  say "installed $ETC/daemon.json"
fi

# The app's own unit, and the shared ones its unit names (the target and Redis).
units=(berth.target berth-redis.service)
[ "$app" = shim ] || units+=("berth-$app.service")
mkdir -p "$UNIT_DIR"
redis_changed=0
for unit in "${units[@]}"; do
  src=$DEPLOY_DIR/systemd/$unit
  [ -f "$src" ] || die "$src is missing: run the copy of install-app.sh that sits in a complete deploy/ directory"
  if cmp -s -- "$src" "$UNIT_DIR/$unit"; then continue; fi
  cp -- "$src" "$UNIT_DIR/.$unit.$$"
  chmod 0644 "$UNIT_DIR/.$unit.$$"
  mv -T -- "$UNIT_DIR/.$unit.$$" "$UNIT_DIR/$unit"
  say "installed $UNIT_DIR/$unit"
  [ "$unit" = berth-redis.service ] && redis_changed=1
done

if [ $restart -eq 1 ]; then
  command -v systemctl >/dev/null || die "systemctl not found: use --no-restart on hosts without systemd"
  systemctl daemon-reload
  if [ "$app" = shim ]; then
    say "no service restarted: new containers use shim $version, running containers keep their own shim"
  else
    # A unit that crash-looped into its start limit refuses even a manual restart until reset.
    systemctl reset-failed "berth-$app.service" 2>/dev/null || true
    systemctl restart "berth-$app.service"
    say "restarted berth-$app.service"
  fi
  if [ $redis_changed -eq 1 ]; then
    say "berth-redis.service changed and was not restarted; restart it when convenient: systemctl restart berth-redis.service"
  fi
elif [ "$app" != shim ]; then
  say "not restarted (--no-restart); to switch: systemctl daemon-reload && systemctl restart berth-$app.service"
fi

# After the restart, so a running process never loses its files before it is replaced.
if [ $prune -eq 1 ]; then
  if [ "$app" = shim ]; then
    say "--prune ignored for the shim: running containers may still use any of its versions"
  else
    while IFS= read -r -d '' old; do
      rm -rf -- "$old"
      say "pruned $app $(basename -- "$old")"
    done < <(find "$PREFIX/$app" -mindepth 1 -maxdepth 1 -type d ! -name '.*' ! -name "$version" -print0)
    # Stages left by an install that was killed; safe to remove only while holding the lock.
    if [ $locked -eq 1 ]; then
      find "$PREFIX/$app" -mindepth 1 -maxdepth 1 -name '.stage.*' ! -path "$work" -exec rm -rf -- {} +
    fi
  fi
fi
