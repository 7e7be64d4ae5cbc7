#!/usr/bin/env bash
# The whole test suite: installs what it needs (scripts/setup.sh), lints, then runs every
# unit and integration test with Node's test runner. Integration tests start their own
# Temporal dev server, nats-server, simulator and workers on free ports and stop them after.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

bash scripts/setup.sh --with-test-server --with-production

echo "test: lint (eslint: determinism rules for workflows/, type-only activity imports)"
node_modules/.bin/eslint --max-warnings 0 .

mapfile -t files < <(find dist/test -name '*.test.js' | sort)
echo "test: ${#files[@]} test files"
# One file at a time: each integration file runs a whole stack, and this machine has 2 cores.
mkdir -p .data
tap=.data/last-test-run.tap
# The reliability suites append their figures here; printed as one summary at the end.
export PHASEGATE_RELIABILITY_SUMMARY="$PWD/.data/reliability-summary.jsonl"
rm -f "$PHASEGATE_RELIABILITY_SUMMARY"
status=0
node --test --test-concurrency=1 --test-timeout=900000 \
  --test-reporter=spec --test-reporter-destination=stdout \
  --test-reporter=tap --test-reporter-destination="$tap" "${files[@]}" || status=$?
passed=$(grep -E '^# pass ' "$tap" | tail -n 1 | awk '{print $3}')
failed=$(grep -E '^# fail ' "$tap" | tail -n 1 | awk '{print $3}')
node dist/test/support/reliability-summary.js
echo "${passed:-0} passed, ${failed:-0} failed"
exit "$status"
