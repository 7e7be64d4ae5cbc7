#!/usr/bin/env bash
# Installs everything phasegate needs, skipping whatever is already in place:
#   npm dependencies (from the lock file), the Temporal CLI (dev server + Web UI) and
#   nats-server built from their official Go modules, the Java time-skipping test server
#   from Maven Central and Debian's chromium (only with --with-test-server, for the tests),
#   and the TypeScript build.
#
# Tools are cached per pinned version under $PHASEGATE_TOOLS_DIR (default: the user's
# cache folder), so fresh clones on the same machine reuse them; .tools/bin in the project
# links to the cached binaries and is what the code looks up.
#
# Usage: scripts/setup.sh [--with-test-server]
set -euo pipefail

project_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$project_root"
# shellcheck source=toolchain/versions.sh
source scripts/toolchain/versions.sh

with_test_server=0
with_production=0
for arg in "$@"; do
  case "$arg" in
    --with-test-server) with_test_server=1 ;;
    --with-production) with_production=1 ;;
    *) echo "setup: unknown argument '$arg' (known: --with-test-server, --with-production)" >&2; exit 2 ;;
  esac
done

tools_dir="${PHASEGATE_TOOLS_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/phasegate/tools}"
link_dir="$project_root/.tools/bin"
mkdir -p "$tools_dir" "$link_dir"

now_ms() { date +%s%3N; }
step_started=0
step() { step_started=$(now_ms); printf 'setup: %s ... ' "$1"; }
done_step() { printf '%s (%d ms)\n' "$1" "$(( $(now_ms) - step_started ))"; }
fail() {
  printf 'FAILED\nsetup: %s\n' "$1" >&2
  exit 1
}
need() {
  command -v "$1" >/dev/null 2>&1 || fail "'$1' is not installed; $2"
}

# Build a Go module's command into the cache, atomically: a half-built binary never lands.
go_build() {
  local name="$1" module="$2" version="$3" binary="$4" link="${5:-$4}"
  local dest="$tools_dir/$name-$version/bin"
  step "$name $version"
  if [[ -x "$dest/$binary" ]]; then
    ln -sfn "$dest/$binary" "$link_dir/$link"
    done_step "cached at $dest"
    return
  fi
  need go "it builds $name from the Go module proxy; install Go 1.23+ (Debian: golang-go)"
  local staging log
  staging="$(mktemp -d "$tools_dir/.staging-$name-XXXXXX")"
  log="$staging/build.log"
  if ! GOBIN="$staging/bin" GOFLAGS=-mod=mod go install "$module@$version" >"$log" 2>&1; then
    tail -n 20 "$log" >&2
    rm -rf "$staging"
    fail "could not build $module@$version with 'go install' (GOPROXY=$(go env GOPROXY)); is the Go module proxy reachable?"
  fi
  mkdir -p "$tools_dir/$name-$version"
  rm -rf "$dest"
  mv "$staging/bin" "$dest"
  rm -rf "$staging"
  ln -sfn "$dest/$binary" "$link_dir/$link"
  done_step "built into $dest"
}

# Debian packages run as ordinary processes (the tests' browser and servers, the production-shaped
# stack's PostgreSQL), installed with apt-get when missing.
apt_install() { # package command
  local pkg=$1 cmd=$2 apt=(apt-get)
  command -v "$cmd" >/dev/null 2>&1 && return 0
  if (( EUID != 0 )); then
    command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null || fail "$pkg is not installed and installing it needs root: run 'sudo apt-get install $pkg' (Debian's package)"
    apt=(sudo -n apt-get)
  fi
  if ! DEBIAN_FRONTEND=noninteractive "${apt[@]}" install -y --no-install-recommends "$pkg" >/tmp/phasegate-apt.$$.log 2>&1; then
    DEBIAN_FRONTEND=noninteractive "${apt[@]}" update >>/tmp/phasegate-apt.$$.log 2>&1 || true
    if ! DEBIAN_FRONTEND=noninteractive "${apt[@]}" install -y --no-install-recommends "$pkg" >>/tmp/phasegate-apt.$$.log 2>&1; then
      tail -n 20 /tmp/phasegate-apt.$$.log >&2
      fail "could not install Debian's $pkg with apt-get; are Debian's package mirrors reachable?"
    fi
  fi
  rm -f /tmp/phasegate-apt.$$.log
}

total_started=$(now_ms)
echo "setup: tools cache $tools_dir"

need node "phasegate runs on Node.js >= 20.3"
need npm "it installs phasegate's dependencies from the npm registry"
node_major="$(node -p 'process.versions.node.split(".")[0]')"
(( node_major >= 20 )) || fail "Node.js $(node --version) is too old; phasegate needs >= 20.3"

# npm dependencies: reinstall only when the lock file changed since the last install.
step "npm dependencies"
lock_hash="$(sha256sum package-lock.json | cut -d' ' -f1)"
stamp="node_modules/.phasegate-lock-sha256"
if [[ -f "$stamp" && "$(cat "$stamp")" == "$lock_hash" ]]; then
  done_step "up to date with package-lock.json"
else
  if ! npm ci --no-audit --no-fund --loglevel=error >/tmp/phasegate-npm-ci.$$.log 2>&1; then
    tail -n 30 /tmp/phasegate-npm-ci.$$.log >&2
    fail "'npm ci' failed; is the npm registry reachable?"
  fi
  rm -f /tmp/phasegate-npm-ci.$$.log
  echo "$lock_hash" >"$stamp"
  done_step "installed from package-lock.json"
fi

go_build temporal-cli github.com/temporalio/cli/cmd/temporal "$TEMPORAL_CLI_VERSION" temporal
go_build nats-server github.com/nats-io/nats-server/v2 "$NATS_SERVER_VERSION" nats-server

if (( with_test_server )); then
  step "temporal-test-server $TEMPORAL_TEST_SERVER_VERSION"
  dest="$tools_dir/temporal-test-server-$TEMPORAL_TEST_SERVER_VERSION"
  if [[ -x "$dest/bin/temporal-test-server" && -d "$dest/lib" ]]; then
    done_step "cached at $dest"
  else
    need java "the time-skipping test server is a Java program; install a JDK 11+ (Debian: openjdk-17-jre-headless)"
    need mvn "it resolves io.temporal:temporal-test-server from Maven Central (Debian: maven)"
    staging="$(mktemp -d "$tools_dir/.staging-test-server-XXXXXX")"
    if ! mvn -q -B -f scripts/toolchain/test-server-pom.xml \
        -Dtemporal.test.server.version="$TEMPORAL_TEST_SERVER_VERSION" \
        dependency:copy-dependencies -DincludeScope=runtime -DoutputDirectory="$staging/lib" \
        >"$staging/mvn.log" 2>&1; then
      tail -n 20 "$staging/mvn.log" >&2
      rm -rf "$staging"
      fail "could not resolve io.temporal:temporal-test-server:$TEMPORAL_TEST_SERVER_VERSION with Maven; is Maven Central reachable?"
    fi
    mkdir -p "$staging/bin"
    # The SDK spawns this and gives it 5 s to listen: exec java directly, no shell in between.
    cat >"$staging/bin/temporal-test-server" <<WRAPPER
#!/bin/sh
# Java time-skipping test server $TEMPORAL_TEST_SERVER_VERSION; args: <port>
exec java -XX:+UseSerialGC -XX:TieredStopAtLevel=1 -cp "$dest/lib/*" io.temporal.testserver.TestServer "\$@"
WRAPPER
    chmod +x "$staging/bin/temporal-test-server"
    rm -f "$staging/mvn.log"
    rm -rf "$dest"
    mv "$staging" "$dest"
    done_step "resolved into $dest"
  fi
  ln -sfn "$dest/bin/temporal-test-server" "$link_dir/temporal-test-server"

  # Debian packages the tests run as ordinary processes, installed with apt_install when missing:
  # chromium (the Web UI test drives it headless; a browser cannot be downloaded here and
  # puppeteer-core never tries) and prometheus (the Prometheus probe's test scrapes the
  # simulator with a real server, test/integration/prometheus-probe.test.ts).
  step "chromium (headless, for the Web UI test)"
  apt_install chromium chromium
  done_step "$(chromium --version 2>/dev/null | head -n 1) at $(command -v chromium)"
  step "prometheus (a real server for the Prometheus probe's test)"
  apt_install prometheus prometheus
  done_step "$(prometheus --version 2>&1 | head -n 1) at $(command -v prometheus)"
  # supervisor and curl: the reference fleet's test runs real agents under supervisord, and its
  # catalogue's script (examples/agent/agentctl) restarts them and reads their reports.
  step "supervisor and curl (the reference agents' fleet, test/integration/reference-fleet.test.ts)"
  apt_install supervisor supervisord
  apt_install curl curl
  done_step "supervisord $(supervisord --version 2>/dev/null) at $(command -v supervisord)"

  # compose-check: docker-compose*.yml loaded by compose-go, the loader `docker compose` uses
  # (no Docker engine here). A small Go program of ours, keyed by the pin and its own source.
  src=scripts/toolchain/compose-check
  grep -q "compose-spec/compose-go/v2 $COMPOSE_GO_VERSION\$" "$src/go.mod" || fail "$src/go.mod does not require compose-go $COMPOSE_GO_VERSION (versions.sh)"
  key="$COMPOSE_GO_VERSION-$(cat "$src/main.go" "$src/go.mod" "$src/go.sum" | sha256sum | cut -c1-12)"
  step "compose-check (compose-go $COMPOSE_GO_VERSION)"
  dest="$tools_dir/compose-check-$key/bin"
  if [[ -x "$dest/compose-check" ]]; then
    done_step "cached at $dest"
  else
    need go "it builds compose-check (compose-go) from the Go module proxy; install Go 1.24+ (Debian: golang-go)"
    staging="$(mktemp -d "$tools_dir/.staging-compose-check-XXXXXX")"
    if ! (cd "$src" && GOFLAGS=-mod=readonly go build -o "$staging/bin/compose-check" .) >"$staging/build.log" 2>&1; then
      tail -n 20 "$staging/build.log" >&2
      rm -rf "$staging"
      fail "could not build compose-check with compose-go $COMPOSE_GO_VERSION; is the Go module proxy reachable?"
    fi
    mkdir -p "$tools_dir/compose-check-$key"
    rm -rf "$dest"
    mv "$staging/bin" "$dest"
    rm -rf "$staging"
    done_step "built into $dest"
  fi
  ln -sfn "$dest/compose-check" "$link_dir/compose-check"
fi

# The production-shaped local stack (lib/production-stack.ts, scripts/production-stack.sh): the
# Temporal server and its SQL schema tool from the server's own module (no replace line there),
# its SQL schema files from the same module, the Web UI server, and Debian's PostgreSQL.
if (( with_production )); then
  go_build temporal-server go.temporal.io/server/cmd/server "$TEMPORAL_SERVER_VERSION" server temporal-server
  go_build temporal-sql-tool go.temporal.io/server/cmd/tools/sql "$TEMPORAL_SERVER_VERSION" sql temporal-sql-tool
  go_build temporal-ui-server github.com/temporalio/ui-server/v2/cmd/server "$TEMPORAL_UI_SERVER_VERSION" server temporal-ui-server
  step "Temporal's SQL schema $TEMPORAL_SERVER_VERSION"
  schema="$tools_dir/temporal-server-$TEMPORAL_SERVER_VERSION/schema"
  if [[ ! -d "$schema/postgresql" ]]; then
    module_dir="$(GOFLAGS=-mod=mod go mod download -json "go.temporal.io/server@$TEMPORAL_SERVER_VERSION" | sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$/\1/p')"
    [[ -d "$module_dir/schema/postgresql" ]] || fail "go mod download did not give go.temporal.io/server@$TEMPORAL_SERVER_VERSION's schema folder"
    rm -rf "$schema.tmp" && cp -r "$module_dir/schema" "$schema.tmp" && chmod -R u+w "$schema.tmp" && mv "$schema.tmp" "$schema"
  fi
  ln -sfn "$schema" "$link_dir/../temporal-schema"
  done_step "$schema"
  step "postgresql (Temporal's store on the production-shaped stack)"
  compgen -G '/usr/lib/postgresql/*/bin/initdb' >/dev/null || apt_install postgresql /usr/lib/postgresql/none
  done_step "$(ls -d /usr/lib/postgresql/*/bin | tail -n 1)"
fi

step "TypeScript build"
# A fresh build each time: JavaScript left in dist/ by a source file that was moved or deleted
# would still be found by require() (a stale workflows/week.js shadows workflows/week/). The
# workflow bundle cache (dist/.workflow-bundle, keyed by a hash of the sources) is kept.
if [[ -d dist ]]; then find dist -mindepth 1 -maxdepth 1 ! -name .workflow-bundle -exec rm -rf {} +; fi
if ! node_modules/.bin/tsc -p tsconfig.json >/tmp/phasegate-tsc.$$.log 2>&1; then
  cat /tmp/phasegate-tsc.$$.log >&2
  rm -f /tmp/phasegate-tsc.$$.log
  fail "the TypeScript build failed (errors above)"
fi
rm -f /tmp/phasegate-tsc.$$.log
done_step "dist/ up to date"

echo "setup: ready in $(( $(now_ms) - total_started )) ms"
