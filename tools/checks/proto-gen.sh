#!/usr/bin/env bash
# Generated contract code is committed (reviewable, and builds need no generator). This script
# regenerates it; with --check it fails when the committed code differs from the protos.
set -euo pipefail
cd "$(dirname "$0")/../.."
out=libs/proto/src/gen
if [ "${1:-}" = "--check" ]; then
  tmp=$(mktemp -d)
  trap 'rm -rf "$tmp"' EXIT
  (cd proto && npx --no-install buf generate -o "$tmp" >/dev/null)
  if ! diff -r "$tmp/gen" "$out" >/dev/null; then
    diff -r "$tmp/gen" "$out" | head -40 || true
    echo "proto: generated code in $out is out of date; run: npm run proto:gen" >&2
    exit 1
  fi
  echo "proto: generated code is up to date"
  exit 0
fi
rm -rf "$out"
(cd proto && npx --no-install buf generate -o ../libs/proto/src)
echo "proto: regenerated $out"
