#!/usr/bin/env bash
# Benchmarks (not part of the test suite): print their figures and write them under .data/bench/.
#   scripts/bench.sh all [--quick]                       every benchmark side by side -> bench/results.json, bench/RESULTS.md
#   scripts/bench.sh rollback [runs] [sampleIntervalMs]   fault -> undo -> rolled back, p50/p95/max
#   scripts/bench.sh probes [samples]                    cost of one reading of each probe
#   scripts/bench.sh overhead [seconds]                  CPU and memory of probing the whole fleet every second
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
bash scripts/setup.sh >/dev/null
case "${1:-}" in
  all)
    shift
    # The peer of the orchestration benchmark: Debian's Ansible engine (ansible-core).
    if ! command -v ansible-playbook >/dev/null; then
      echo "bench: installing Debian's ansible-core for the Ansible peer ..."
      if [ "$(id -u)" = 0 ]; then DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends ansible-core >/dev/null \
        || { echo "bench: apt-get install ansible-core failed (is Debian's package mirror reachable?)" >&2; exit 1; }
      else echo "bench: ansible-playbook is missing; install Debian's ansible-core (sudo apt-get install ansible-core)" >&2; exit 1; fi
    fi
    command -v curl >/dev/null || { echo "bench: curl is missing (the instant undo action calls it)" >&2; exit 1; }
    exec node dist/bench/all.js "$@" ;;
  rollback) shift; exec node dist/bench/rollback-reaction.js "$@" ;;
  probes) shift; exec node dist/bench/probe-cost.js "$@" ;;
  overhead) shift; exec node dist/bench/probe-overhead.js "$@" ;;
  *) echo "usage: scripts/bench.sh all [--quick] | rollback [runs] [sampleIntervalMs] | probes [samples] | overhead [seconds]" >&2; exit 2 ;;
esac
