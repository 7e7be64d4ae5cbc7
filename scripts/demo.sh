#!/usr/bin/env bash
# The main job: installs what it needs, boots the embedded stack (Temporal dev server with
# its Web UI, nats-server with JetStream, the fleet simulator, the control worker and one
# worker per machine) and rolls a phase out over the simulated fleet.
#   scripts/demo.sh               run the phase; you approve each week's gate; Ctrl-C stops
#   scripts/demo.sh --until-done  decide gates from their reports, exit with the phase outcome
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
bash scripts/setup.sh
exec node dist/cli/main.js demo "$@"
