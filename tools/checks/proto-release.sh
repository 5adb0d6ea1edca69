#!/usr/bin/env bash
# Cuts the baseline of a contracts release: the descriptor set of every proto as it stands,
# committed under proto/baselines/<name>.binpb. proto-breaking.sh checks against the newest one.
set -euo pipefail
cd "$(dirname "$0")/../.."
name=${1:?usage: proto-release.sh <version, e.g. contracts-1.1.0>}
out="proto/baselines/$name.binpb"
[ -e "$out" ] && { echo "proto: $out exists: a released baseline is never rewritten" >&2; exit 1; }
bash tools/checks/proto-breaking.sh
npx --no-install buf build proto -o "$out"
echo "proto: baseline $out written; commit it with the release"
