#!/usr/bin/env bash
# Records the histories of a real run of every workflow type into test/fixtures/histories
# (the replay test's fixtures). Run after an intended change of a workflow, and commit them.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
bash scripts/setup.sh >/dev/null
exec node dist/test/replay/record-histories.js
