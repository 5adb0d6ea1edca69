#!/usr/bin/env bash
# Every published contract may only grow. The working tree is checked against the baseline of the
# last release (proto/baselines/, one descriptor set per release, cut by proto-release.sh) and
# against the previous commit; uncommitted edits also against HEAD. A missing baseline is a
# failure, never a skip. A breaking change belongs in a new package (v2) served beside v1.
set -euo pipefail
cd "$(dirname "$0")/../.."
npx --no-install buf lint proto
status=0
against() {
  local what=$1 input=$2
  if npx --no-install buf breaking proto --against "$input"; then
    echo "proto: no breaking change against $what"
  else
    echo "proto: BREAKING change against $what (make a v2 package instead)" >&2
    status=1
  fi
}
baseline=$(ls proto/baselines/*.binpb 2>/dev/null | sort -V | tail -n 1 || true)
if [ -z "$baseline" ]; then
  echo "proto: no release baseline in proto/baselines: cannot check the contracts (cut one with tools/checks/proto-release.sh)" >&2
  exit 1
fi
against "the release baseline $(basename "$baseline" .binpb)" "$baseline"
if git rev-parse -q --verify HEAD~1 >/dev/null && git cat-file -e "HEAD~1:proto/buf.yaml" 2>/dev/null; then
  against HEAD~1 ".git#ref=HEAD~1,subdir=proto"
fi
if git rev-parse -q --verify HEAD >/dev/null && [ -n "$(git status --porcelain proto)" ]; then
  against HEAD ".git#ref=HEAD,subdir=proto"
fi
exit $status
