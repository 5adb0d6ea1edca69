#!/usr/bin/env bash
# Releases ONE app on its own: optionally bumps its semantic version (apps/<app>/package.json) and
# records the change in apps/<app>/CHANGELOG.md, builds it, and writes its artifact:
#   dist/release/<app>-<version>.tgz         the app's folder: main.js, its map, package.json
#                                            (name + version), node_modules it needs, its unit file
#   dist/release/<app>-<version>.tgz.sha256  the checksum install-app.sh verifies
# Install or upgrade it with: deploy/install-app.sh <app> dist/release/<app>-<version>.tgz
#
# usage: npm run release -- <app> [patch | minor | major | <x.y.z>]
set -euo pipefail
cd "$(dirname "$0")/../.."
readonly APPS=(gateway images snapshotter supervisor netproxy shim builder)
app=${1:-}
bump=${2:-}
known=0
for a in "${APPS[@]}"; do [ "$a" = "$app" ] && [ -d "apps/$app" ] && known=1; done
if [ $known -eq 0 ]; then
  echo "usage: npm run release -- <app> [patch|minor|major|<x.y.z>]; apps: $(ls apps | tr '\n' ' ')" >&2
  exit 2
fi
pkg=apps/$app/package.json
current=$(node -p "require('./$pkg').version")
version=$current
if [ -n "$bump" ]; then
  version=$(node -e '
    const [cur, b] = process.argv.slice(1);
    const m = /^(\d+)\.(\d+)\.(\d+)$/.exec(cur);
    if (/^\d+\.\d+\.\d+$/.test(b)) { console.log(b); process.exit(0); }
    if (!m || !["patch", "minor", "major"].includes(b)) { console.error(`cannot bump ${cur} by ${b}`); process.exit(2); }
    const [x, y, z] = m.slice(1).map(Number);
    console.log(b === "major" ? `${x + 1}.0.0` : b === "minor" ? `${x}.${y + 1}.0` : `${x}.${y}.${z + 1}`);
  ' "$current" "$bump")
  [ "$version" != "$current" ] || { echo "release: $app is already at $version" >&2; exit 2; }
  node -e '
    const fs = require("fs"); const [f, v] = process.argv.slice(1);
    const p = JSON.parse(fs.readFileSync(f, "utf8")); p.version = v;
    fs.writeFileSync(f, JSON.stringify(p, null, 2) + "\n");
  ' "$pkg" "$version"
  # What changed in the app since its last release, from the commits that touched it.
  since=$(git log -1 --format=%H -- "apps/$app/CHANGELOG.md" 2>/dev/null || true)
  log=$(git log --no-merges --format='- %s' ${since:+"$since"..HEAD} -- "apps/$app" | head -n 50)
  changelog=apps/$app/CHANGELOG.md
  { printf '## %s (%s)\n\n%s\n\n' "$version" "$(date -u +%Y-%m-%d)" "${log:-- no change in apps/$app itself (libraries only)}"; [ -f "$changelog" ] && tail -n +3 "$changelog"; } >"$changelog.new"
  { printf '# %s changelog\n\n' "$app"; cat "$changelog.new"; } >"$changelog"
  rm -f "$changelog.new"
  echo "release: $app $current -> $version (commit $pkg and $changelog)"
fi
NX_DAEMON=false NX_NO_CLOUD=true npx --no-install nx build "$app" --outputStyle=static >/dev/null
built=$(node -p "require('./dist/apps/$app/package.json').version")
[ "$built" = "$version" ] || { echo "release: the build says $built, not $version" >&2; exit 1; }
out=dist/release
stage=$(mktemp -d)
trap 'rm -rf "$stage"' EXIT
cp -a "dist/apps/$app" "$stage/$app"
[ -f "deploy/systemd/berth-$app.service" ] && cp "deploy/systemd/berth-$app.service" "$stage/$app/"
mkdir -p "$out"
tgz=$out/$app-$version.tgz
tar -czf "$tgz" -C "$stage" "$app"
(cd "$out" && sha256sum "$app-$version.tgz" >"$app-$version.tgz.sha256")
echo "release: $tgz ($(cut -c1-12 "$tgz.sha256")...); install with: deploy/install-app.sh $app $tgz"
