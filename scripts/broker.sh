# Shared by the scripts: say, die, free_port, the cached tansu broker and
# Postfix's smtp-sink for the digest benches.
# shellcheck shell=bash

TOOLS="${MARQUEE_TOOLS:-$HOME/.cache/marquee-tools}"
TANSU_VERSION=0.6.0
export PATH="$TOOLS/bin:$HOME/.cargo/bin:$PATH"
say() { printf '\n==> %s\n' "$*"; }
die() { printf "%s: %s\n" "$0" "$*" >&2; exit 1; }
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }

install_tansu() {
  if [ "$(tansu --version 2>/dev/null)" = "tansu $TANSU_VERSION" ]; then return; fi
  say "Building tansu $TANSU_VERSION into $TOOLS (first run only: 15-20 minutes)"
  cargo install tansu --version "$TANSU_VERSION" --locked --features dynostore,libsql --root "$TOOLS"
}

BROKER_PID=
BROKER_DIR=
start_broker() {
  local port
  port=$(free_port)
  BROKER_DIR=$(mktemp -d)
  tansu broker --listener-url "tcp://127.0.0.1:$port" --advertised-listener-url "tcp://127.0.0.1:$port" \
    --storage-engine memory://tansu/ >"$BROKER_DIR/broker.log" 2>&1 &
  BROKER_PID=$!
  for _ in $(seq 100); do
    (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null && break
    kill -0 "$BROKER_PID" 2>/dev/null || { cat "$BROKER_DIR/broker.log" >&2; die "tansu exited at start"; }
    sleep 0.1
  done
  export TEST_KAFKA_BROKERS="127.0.0.1:$port"
  export TANSU_BIN
  TANSU_BIN=$(command -v tansu)
  say "Kafka tests run against $(tansu --version) at $TEST_KAFKA_BROKERS"
}

stop_broker() {
  if [ -n "$BROKER_PID" ]; then kill "$BROKER_PID" 2>/dev/null || true; wait "$BROKER_PID" 2>/dev/null || true; fi
  if [ -n "$BROKER_DIR" ]; then rm -rf "$BROKER_DIR"; fi
}

# Postfix's smtp-sink on a free port (installed from Debian's packages when
# missing), counting and discarding; sets SINK_PORT and SINK_PID.
start_smtp_sink() {
  command -v /usr/sbin/smtp-sink >/dev/null || {
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postfix >/dev/null
  }
  SINK_PORT=$(free_port)
  /usr/sbin/smtp-sink -u nobody -c "127.0.0.1:$SINK_PORT" 1000 >/dev/null &
  SINK_PID=$!
}
