#!/usr/bin/env bash
# Benchmarks (not part of the test suite): print their figures and write them under .data/bench/.
#   scripts/bench.sh rollback [runs] [sampleIntervalMs]   fault -> undo -> rolled back, p50/p95/max
#   scripts/bench.sh probes [samples]                    cost of one reading of each probe
#   scripts/bench.sh overhead [seconds]                  CPU and memory of probing the whole fleet every second
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
bash scripts/setup.sh >/dev/null
case "${1:-}" in
  rollback) shift; exec node dist/bench/rollback-reaction.js "$@" ;;
  probes) shift; exec node dist/bench/probe-cost.js "$@" ;;
  overhead) shift; exec node dist/bench/probe-overhead.js "$@" ;;
  *) echo "usage: scripts/bench.sh rollback [runs] [sampleIntervalMs] | probes [samples] | overhead [seconds]" >&2; exit 2 ;;
esac
