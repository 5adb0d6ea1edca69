#!/usr/bin/env bash
# Every published contract (all of proto/, v1 included) may only grow. Compares the protos
# against the previous commit and, for uncommitted edits, against HEAD. A breaking change
# belongs in a new package (v2) served beside v1.
set -euo pipefail
cd "$(dirname "$0")/../.."
npx --no-install buf lint proto
status=0
check() {
  local ref=$1
  if ! git cat-file -e "$ref:proto/buf.yaml" 2>/dev/null; then
    echo "proto: no contracts at $ref to compare with"
    return 0
  fi
  if npx --no-install buf breaking proto --against ".git#ref=$ref,subdir=proto"; then
    echo "proto: no breaking change against $ref"
  else
    echo "proto: BREAKING change against $ref (make a v2 package instead)" >&2
    status=1
  fi
}
if git rev-parse -q --verify HEAD~1 >/dev/null; then check HEAD~1; fi
if git rev-parse -q --verify HEAD >/dev/null && [ -n "$(git status --porcelain proto)" ]; then check HEAD; fi
exit $status
