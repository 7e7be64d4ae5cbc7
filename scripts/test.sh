#!/usr/bin/env bash
# The whole test suite: installs what it needs (scripts/setup.sh), lints, then runs every
# unit and integration test with Node's test runner. Integration tests start their own
# Temporal dev server, nats-server, simulator and workers on free ports and stop them after.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

bash scripts/setup.sh --with-test-server

echo "test: lint (eslint: determinism rules for workflows/, type-only activity imports)"
node_modules/.bin/eslint --max-warnings 0 .

mapfile -t files < <(find dist/test -name '*.test.js' | sort)
echo "test: ${#files[@]} test files"
# One file at a time: each integration file runs a whole stack, and this machine has 2 cores.
exec node --test --test-concurrency=1 --test-timeout=900000 --test-reporter=spec "${files[@]}"
