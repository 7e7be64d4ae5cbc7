#!/usr/bin/env bash
# The randomized checker of the fleet against phasegate's record, on a real local stack:
#   scripts/check.sh --seeds 200        seeds 1..200
#   scripts/check.sh --seed 4711        one seed (replays a failing one)
#   scripts/check.sh --from 300 --seeds 50 [--verbose]
# Prints each schedule, the log and replay command of a failing seed, and a closing summary.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
bash scripts/setup.sh >/dev/null
exec node dist/test/checker/main.js "$@"
