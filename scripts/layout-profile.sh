#!/usr/bin/env bash
# Writes src/hot-methods.txt: the managed methods both daemons run in ordinary operation, which the Native AOT build
# places together at the start of their code (src/Daemon.props, IlcOrderFile; docs/operations.md, "Footprint").
# Code a process runs is mapped 64 KiB at a time, so methods that run, scattered among 7 MB of code that does not,
# kept 5.6-6.3 MB of each daemon's 7.4 MB of code resident; together they fit in about 1.2 MB.
#
#   scripts/layout-profile.sh [OUT]     (Linux x64 with gcc, which Native AOT needs anyway; about 2 minutes; OUT
#                                        defaults to src/hot-methods.txt)
#
# What counts as ordinary operation, on loopback (configuration files with the settings operators typically set,
# below): start; 20 tunneled connections one after another, 4 x 10 at once, 20 held open together and 5 reset by the
# client, through tunnel-client and tunnel-server; the admin endpoints (/healthz, /readyz, /metrics) of both; a SIGHUP
# reload of both and the same traffic again; all that through a multiplexed tunnel-client set by flags alone that logs
# JSON; the quiet-period trim and the warm pool ageing out its connections. Each daemon runs with scripts/layout-trace.c preloaded, which puts a breakpoint on the entry of
# every method and marks each method whose breakpoint fires (once: then it puts the code back). The methods that ran,
# server's then client's, in the compiler's order (which keeps a type's methods together), are the file. Methods not
# listed keep the compiler's order after them, so a stale list costs memory, never correctness: run this again after
# changing what runs at start or per connection, and see the effect with bench/footprint.sh and the end-to-end test
# PublishedFormKeepsRunningCodeTogether.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
OUT=${1:-$ROOT/src/hot-methods.txt}
PY=python3
FD_LIMIT=4096
# shellcheck source=../bench/lib.sh
. "$ROOT/bench/lib.sh"
WORK=$(mktemp -d /tmp/layout-profile.XXXXXX)
trap 'cleanup; rm -rf "$WORK"' EXIT
METHODS="$ROOT/scripts/layout-methods.py"

gcc -shared -fPIC -O2 -o "$WORK/layout-trace.so" scripts/layout-trace.c -ldl
traced() { # traced BINARY FLAGS: the environment that runs BINARY under the tracer, writing FLAGS
  [ -s "$1.entries" ] || "$PY" "$METHODS" entries "$1" "$1.entries"
  echo env LD_PRELOAD="$WORK/layout-trace.so" LAYOUT_TRACE_METHODS="$1.entries" LAYOUT_TRACE_OUT="$2"
}

bench/make-certs.sh "$WORK/certs" layout.tunnel.test >/dev/null
C=$WORK/certs
traffic() { # traffic PORT: 20 connections one after another, then 4 x 10 at once, each echoing 16 bytes; then 20 held
  # open together (more than the warm pool holds: misses, direct dials, the pool growing), then 5 that the client resets
  # (RST) after its 16 bytes went out, as a browser or Squid that gives up does
  local port=$1 pids=() p
  "$PY" bench/startup.py warm "$port" 20 >/dev/null
  for _ in 1 2 3 4; do "$PY" bench/startup.py warm "$port" 10 >/dev/null & pids+=($!); done
  for p in "${pids[@]}"; do wait "$p"; done
  "$PY" - "$port" <<'PYEOF'
import socket, struct, sys
held = [socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=10) for _ in range(20)]
for s in held:
    s.sendall(b"y" * 16)
for s in held:
    got = b""
    while len(got) < 16 and (chunk := s.recv(16 - len(got))):
        got += chunk
    s.close()
for _ in range(5):
    s = socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=10)
    s.sendall(b"x" * 16)
    s.recv(16)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    s.close()
PYEOF
}
scrape() { local a path; for a in "$@"; do for path in healthz readyz metrics; do
  "$PY" -c 'import sys, urllib.request; urllib.request.urlopen(sys.argv[1], timeout=10).read()' \
    "http://127.0.0.1:$a/$path"; done; done; }
reloaded() { # reloaded LOG PID: SIGHUP, then until the log says the reload is done (15 s)
  local before i; before=$(grep -c 'reload complete' "$1" || true)
  kill -HUP "$2"
  for i in $(seq 150); do [ "$(grep -c 'reload complete' "$1" || true)" -gt "$before" ] && return 0; sleep 0.1; done
  log "no 'reload complete' in $1 after 15 s"; return 1
}

log "publishing in the compiler's order, with symbols"
BIN=$WORK/pub D=$WORK/run
mkdir -p "$D"
scripts/publish.sh "$BIN" -p:TunnelHotLayout=false -p:StripSymbols=false >/dev/null
read -r P_ECHO P_SRV P_CLI P_MUX A_SRV A_CLI A_MUX <<<"$(free_ports 7)"
# Configuration files (JSON with comments) of the kinds of settings operators set, for the first pair; flags alone for
# the multiplexed client.
cat >"$D/server.json" <<EOF
{
  // what an operator typically sets beside the flags
  "admin": { "listen": "$A_SRV" },
  "log": { "level": "information", "format": "text" },
  "shutdownTimeout": "30s",
  "idleTimeout": "10m",
  "handshakeTimeout": "10s",
  "maxConnectionsPerSource": 1000
}
EOF
cat >"$D/client.json" <<EOF
{
  "admin": { "listen": "$A_CLI" },
  "log": { "level": "information" },
  "poolSize": 2,
  // shorter than the default 30 s so that the pool ages out and replaces its connections (and shrinks back after
  // the held burst grew it) within the quiet period below, as it does every 30 s in service
  "poolMaxAge": "4s",
  "connectTimeout": "5s",
  "shutdownTimeout": "2s",
  "idleTimeout": "10m"
}
EOF
start_bg "$D/echo.log" "$PY" bench/startup.py echo "$P_ECHO"; ECHO=$LAST_PID
wait_port "$P_ECHO" "$ECHO"
# shellcheck disable=SC2046
start_bg "$D/server.log" $(traced "$BIN/tunnel-server" "$D/server.flags") "$BIN/tunnel-server" --listen "127.0.0.1:$P_SRV" --upstream "127.0.0.1:$P_ECHO" \
  --cert "$C/server.pem" --key "$C/server.key" --ca "$C/ca.pem" --config "$D/server.json"; SRV=$LAST_PID
wait_port "$P_SRV" "$SRV"
client() { # client PORT LOG FLAGS [options]
  local port=$1 logfile=$2 flags=$3; shift 3
  # shellcheck disable=SC2046
  start_bg "$logfile" $(traced "$BIN/tunnel-client" "$flags") "$BIN/tunnel-client" --listen "127.0.0.1:$port" --server "127.0.0.1:$P_SRV" \
    --server-name layout.tunnel.test --cert "$C/client.pem" --key "$C/client.key" --ca "$C/ca.pem" \
    "$@"
  wait_port "$port" "$LAST_PID"
}
client "$P_CLI" "$D/client.log" "$D/client.flags" --config "$D/client.json"; CLI=$LAST_PID

log "ordinary operation, traced: traffic, admin scrapes, reload"
traffic "$P_CLI"
scrape "$A_SRV" "$A_CLI"
reloaded "$D/server.log" "$SRV"
reloaded "$D/client.log" "$CLI"
traffic "$P_CLI"
client "$P_MUX" "$D/mux.log" "$D/mux.flags" --admin-listen "$A_MUX" --multiplex on --log-format json; MUX=$LAST_PID
traffic "$P_MUX"
scrape "$A_MUX"
log "quiet period (the trim runs after 2-4 s without connections; the pool ages out its connections after 4 s)"
sleep 10

{ "$PY" "$METHODS" ran "$BIN/tunnel-server" "$D/server.flags"
  "$PY" "$METHODS" ran "$BIN/tunnel-client" "$D/client.flags" "$D/mux.flags"; } | awk '!seen[$0]++' >"$WORK/hot.txt"
stop_pids "$MUX" "$CLI" "$SRV" "$ECHO"
mv "$WORK/hot.txt" "$OUT"
log "wrote $OUT: $(wc -l <"$OUT") methods"
