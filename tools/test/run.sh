#!/usr/bin/env bash
# Runs every check and test in stages and ends with one summary line. Exit status is non-zero
# when any stage failed; every stage runs regardless so one report shows all failures.
set -uo pipefail
cd "$(dirname "$0")/../.."
export NX_DAEMON=false NX_NO_CLOUD=true
results=()
failed=0
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT

stage() {
  local name=$1; shift
  local start=$SECONDS
  echo "=== $name"
  if "$@"; then
    results+=("$name: ok ($((SECONDS - start))s)")
  else
    results+=("$name: FAILED ($((SECONDS - start))s)")
    failed=$((failed + 1))
  fi
}

counts() { # vitest json report -> "N passed, M failed"
  node -e 'const r=require(process.argv[1]);console.log(`${r.numPassedTests} passed, ${r.numFailedTests} failed, ${r.numPendingTests} skipped`)' "$1" 2>/dev/null || echo "no report"
}
junit() { # pytest junit xml -> "N passed, M failed"
  node -e 'const x=require("fs").readFileSync(process.argv[1],"utf8");const a=(k)=>Number((new RegExp(`<testsuite[^>]* ${k}="(\\d+)"`).exec(x)||[])[1]||0);const f=a("failures")+a("errors");console.log(`${a("tests")-f-a("skipped")} passed, ${f} failed, ${a("skipped")} skipped`)' "$1" 2>/dev/null || echo "no report"
}

stage "contracts: generated code up to date" bash tools/checks/proto-gen.sh --check
stage "contracts: no breaking change" bash tools/checks/proto-breaking.sh
stage "engine-api schemas up to date" npx --no-install tsx tools/api-schema/gen-engine-schemas.ts --check
stage "lint (types + boundaries)" npx --no-install nx run-many -t lint --outputStyle=static
stage "types of tests and tools" npx --no-install tsc --noEmit -p tsconfig.json
stage "no floating promises" npx --no-install tsx tools/checks/floating-promises.ts
stage "unit tests" npx --no-install vitest run --reporter=default --reporter=json --outputFile.json="$out/unit.json"
stage "deploy scripts" bash deploy/install-app.test.sh
stage "conformance kits (every implementation)" bash -c 'set -o pipefail; npx --no-install tsx tools/conformance/implementations.ts | tee "$0"' "$out/conformance.txt"
stage "integration tests" npx --no-install vitest run --config tests/vitest.integration.mts --reporter=default --reporter=json --outputFile.json="$out/integration.json"
# The default monitor is conmon; these lifecycle files run again under the Node shim, which stays a supported monitor.
stage "integration tests (Node shim)" env BERTH_TEST_MONITOR=shim npx --no-install vitest run --config tests/vitest.integration.mts tests/integration/containers.test.ts tests/integration/container-ops.test.ts tests/integration/stdin-tty.test.ts tests/integration/log-driver-none.test.ts tests/integration/monitor-loss.test.ts --reporter=default --reporter=json --outputFile.json="$out/integration-shim.json"
# The real clients, each against its own private suite (tests/clients).
stage "clients: docker-py" npx --no-install tsx tests/clients/with-suite.ts -- /usr/bin/pytest-3 -q -p no:cacheprovider --junitxml="$out/docker-py.xml" tests/clients/python
for client in dockerode testcontainers compose; do
  stage "clients: $client" npx --no-install vitest run --config tests/vitest.clients.mts "tests/clients/$client.test.ts" --reporter=default --reporter=json --outputFile.json="$out/$client.json"
done

echo
npx --no-install tsx tools/test/failures.ts "$out"/*.json "$out"/*.xml
for r in "${results[@]}"; do echo "  $r"; done
echo "berth test summary: $(( ${#results[@]} - failed )) of ${#results[@]} stages passed; unit: $(counts "$out/unit.json"); integration: $(counts "$out/integration.json"); integration (Node shim): $(counts "$out/integration-shim.json"); $(tail -n 1 "$out/conformance.txt" 2>/dev/null || echo "conformance kits: no report"); docker-py: $(junit "$out/docker-py.xml"); dockerode: $(counts "$out/dockerode.json"); testcontainers: $(counts "$out/testcontainers.json"); compose: $(counts "$out/compose.json")"
exit $(( failed > 0 ))
