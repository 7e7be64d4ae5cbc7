#!/usr/bin/env bash
# The production-shaped stack on this machine, as ordinary processes (lib/production-stack.ts):
# PostgreSQL with Temporal's schemas, the Temporal server with its Web UI server, three
# nats-servers in one JetStream cluster, the fleet simulator, the control worker and a worker per
# machine; configuration generated from config/production/. Installs what it needs first (the
# server, its schema tool and the UI server built from their Go modules; Debian's PostgreSQL).
#   scripts/production-stack.sh               roll the demo phase out on it; you approve each gate
#   scripts/production-stack.sh --until-done  decide gates from their reports, exit with the outcome
#   scripts/production-stack.sh --stack-only  the stack alone, until Ctrl-C
# Its data (database, NATS stores, logs) stays in .data/production between runs.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
bash scripts/setup.sh --with-production
exec node dist/cli/main.js demo --production "$@"
