#!/usr/bin/env bash
# Benchmarks (not part of the test suite): print their figures and write them under .data/bench/.
#   scripts/bench.sh rollback [runs] [sampleIntervalMs]
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
bash scripts/setup.sh >/dev/null
case "${1:-}" in
  rollback) shift; exec node dist/bench/rollback-reaction.js "$@" ;;
  *) echo "usage: scripts/bench.sh rollback [runs] [sampleIntervalMs]" >&2; exit 2 ;;
esac
