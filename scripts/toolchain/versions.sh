# Pinned versions of the tools phasegate builds for itself. Bump here and only here; the
# cache folder is keyed by these, so a bump builds anew and an unchanged pin is reused.
TEMPORAL_CLI_VERSION=v1.5.1          # later tags carry a `replace` line that `go install` refuses
NATS_SERVER_VERSION=v2.12.15         # 2.12.3+ (older 2.10/2.12 lost acknowledged writes under faults)
TEMPORAL_TEST_SERVER_VERSION=1.38.0  # io.temporal:temporal-test-server, the Java time-skipping server
COMPOSE_GO_VERSION=v2.16.2           # github.com/compose-spec/compose-go, the loader of `docker compose`: validates docker-compose*.yml in the tests (must match compose-check/go.mod)
TEMPORAL_SERVER_VERSION=v1.29.1     # go.temporal.io/server (the version inside CLI v1.5.1), and its schema tool cmd/tools/sql
TEMPORAL_UI_SERVER_VERSION=v2.42.1   # github.com/temporalio/ui-server/v2, the Web UI of the production-shaped stack
