#!/usr/bin/env bash
# Side-by-side benchmark on loopback: three client+server pairs, same certificates (ECDSA P-256), same upstreams,
# same load generators, measured alternately (stunnel, tunnel, tunnel-mux, stunnel, ...):
#   stunnel     stunnel client + stunnel server
#   tunnel      tunnel-client + tunnel-server, the default (stunnel-compatible) wire: bench/tunnel-client.json
#   tunnel-mux  the same tunnel-server, tunnel-client with bench/tunnel-client-mux.json ("multiplex": true)
#
#   bench/run.sh [--full|--quick|--smoke] [--out DIR] [--only bulk,http,ttfb,memory,startup]
#
#   --full   (default) 5 runs per figure, 5 s per load run, 1k/5k/9.9k idle connections, 50 TTFB probes;
#            copies the report to docs/benchmarks.md and docs/benchmarks.png. About 40 minutes here (38–42;
#            it was 25–28 with two pairs).
#   --quick  3 runs, 3 s, 1k/5k idle connections, 20 probes; also updates docs/. About 14 minutes.
#   --smoke  1 run, 1 s, 100 idle connections, 10 probes, shorter pauses; for CI; leaves docs/ alone. Under
#            2 minutes after the build. Exits non-zero if any figure has no number (or if tunnel-mux did not
#            multiplex).
#
#   --only   runs only the named sections (for tuning work); the report marks the rest "no number" and docs/
#            is left alone.
#
# Tuning knobs (environment): BENCH_RUNS, BENCH_MEM_NS (see below); BENCH_PUBLISH_FORM=--jit measures the
# self-contained JIT build instead of the shipped Native AOT one, BENCH_PUBLISH_ARGS adds dotnet publish arguments
# (docs/ left alone with either); BENCH_MUX_CLIENT_CONFIG=FILE runs the
# tunnel-mux pair's client with FILE instead of bench/tunnel-client-mux.json (the report quotes FILE and docs/ is
# left alone).
#
# Results: bench/results/<UTC timestamp>/ (report.md, ratios.png, raw.jsonl, logs/, conf/), git-ignored.
# Everything listens on 127.0.0.1 only; every process started here is stopped by PID on exit.
set -euo pipefail

MODE=full
OUT=
ONLY=bulk,http,ttfb,memory,startup
while [ $# -gt 0 ]; do
  case "$1" in
    --full) MODE=full ;;
    --quick) MODE=quick ;;
    --smoke) MODE=smoke ;;
    --out) OUT=$2; shift ;;
    --only) ONLY=$2; shift ;;
    -h|--help) sed -n '2,26p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "unknown argument: $1 (see --help)" >&2; exit 2 ;;
  esac
  shift
done

# PAUSE: seconds between two load runs; TW_WAIT: after each Connection: close run (TIME_WAIT, the pair settles).
# Smoke shortens both, and runs loads for 1 s, so that three pairs stay under 2 minutes after the build; its
# numbers only show that every figure works.
case "$MODE" in
  full)  RUNS=5; DUR=5; WARM=8; MEM_NS="1000 5000 9900"; TTFB_N=50; SETTLE=3; IDLE=5; PAUSE=1;   TW_WAIT=2 ;;
  quick) RUNS=3; DUR=3; WARM=5; MEM_NS="1000 5000";      TTFB_N=20; SETTLE=2; IDLE=5; PAUSE=1;   TW_WAIT=2 ;;
  smoke) RUNS=1; DUR=1; WARM=1; MEM_NS="100";            TTFB_N=10; SETTLE=1; IDLE=1; PAUSE=0.2; TW_WAIT=1 ;;
esac
# For tuning work: BENCH_RUNS=2 BENCH_MEM_NS="9900" bench/run.sh --quick --only memory
RUNS=${BENCH_RUNS:-$RUNS}
MEM_NS=${BENCH_MEM_NS:-$MEM_NS}

ROOT=$(cd "$(dirname "$0")/.." && pwd)
BENCH=$ROOT/bench
# The tunnel-mux pair's client settings (BENCH_MUX_CLIENT_CONFIG overrides, e.g. to try multiplexConnections).
MUX_CONFIG=${BENCH_MUX_CLIENT_CONFIG:-$BENCH/tunnel-client-mux.json}
[ -f "$MUX_CONFIG" ] || { echo "no such file: $MUX_CONFIG (BENCH_MUX_CLIENT_CONFIG)" >&2; exit 2; }
MUX_CONFIG=$(cd "$(dirname "$MUX_CONFIG")" && pwd)/$(basename "$MUX_CONFIG")
MUX_OVERRIDE=False MUX_SHOWN=bench/tunnel-client-mux.json  # for meta.json, commands.txt and the report
[ "$MUX_CONFIG" = "$BENCH/tunnel-client-mux.json" ] || { MUX_OVERRIDE=True; MUX_SHOWN=$MUX_CONFIG; }
STAMP=$(date -u +%Y%m%dT%H%M%SZ)
OUT=${OUT:-$BENCH/results/$STAMP}
mkdir -p "$OUT/logs" "$OUT/conf" "$OUT/tmp"
OUT=$(cd "$OUT" && pwd)
RAW=$OUT/raw.jsonl
FAILURES=$OUT/failures.txt
: >"$RAW"
: >"$FAILURES"
NAME=bench.tunnel.test
FD_LIMIT=20000
DELAY_MS=25
PY=/usr/bin/python3   # Debian's, for python3-matplotlib (not a pyenv shim)
HOLD_CONCURRENCY=100
STARTED=$(date +%s)

# shellcheck source=bench/lib.sh
source "$BENCH/lib.sh"
rss_kb() { awk '/^VmRSS:/ {print $2}' "/proc/$1/status"; }
threads() { awk '/^Threads:/ {print $2}' "/proc/$1/status"; }
fds() { ls "/proc/$1/fd" | wc -l; }
CLK_TCK=$(getconf CLK_TCK)

record() { # record FIGURE IMPL RUN VALUE [EXTRA_JSON]: VALUE empty or "null" = failed to produce a number
  local figure=$1 impl=$2 run=$3 value=${4:-null} extra=${5:-"{}"}
  if [ -z "$value" ] || [ "$value" = null ] || [ "$value" = nan ]; then
    value=null
    echo "$figure $impl run $run: no number" >>"$FAILURES"
    log "FAILED: $figure $impl run $run"
  fi
  printf '{"figure":"%s","impl":"%s","run":%s,"value":%s,"extra":%s}\n' "$figure" "$impl" "$run" "$value" "$extra" >>"$RAW"
}
calc() { "$PY" -c "import sys; print(round(float(eval(sys.argv[1])), 6))" "$1" 2>/dev/null || echo null; }

# ---------------------------------------------------------------------------------------------------------------
log "mode $MODE, output $OUT"
"$ROOT/scripts/ensure-packages.sh" stunnel4 iperf3 wrk nginx-light python3-matplotlib openssl iproute2 procps
ulimit -n "$FD_LIMIT"

log "building (Release)"
export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1
PUB=$ROOT/artifacts/publish
# The daemons are published by scripts/publish.sh, so the benchmark measures the shipped form (Native AOT).
# BENCH_PUBLISH_FORM=--jit measures the self-contained JIT build instead; BENCH_PUBLISH_ARGS adds dotnet publish
# arguments for both daemons. Either puts the binaries in their own folder and leaves docs/ alone.
PUBLISH_FORM=${BENCH_PUBLISH_FORM:-}
PUBLISH_ARGS=${BENCH_PUBLISH_ARGS:-}
[ -z "$PUBLISH_FORM$PUBLISH_ARGS" ] || PUB=$ROOT/artifacts/publish-bench-custom
BENCH_BIN=$ROOT/artifacts/bench
# Chained with &&: set -e does not apply inside a subshell whose status is tested (the || below), and a failed
# publish must not leave an older binary in artifacts/ to be measured (scripts/publish.sh empties the folder first).
(
  cd "$ROOT" &&
  scripts/publish.sh $PUBLISH_FORM "$PUB" -warnaserror $PUBLISH_ARGS &&
  dotnet publish bench/Tunnel.Bench/Tunnel.Bench.csproj -c Release -o "$BENCH_BIN" -warnaserror
) >"$OUT/logs/build.log" 2>&1 || { tail -30 "$OUT/logs/build.log" >&2; log "build failed"; exit 1; }
TOOL=$BENCH_BIN/tunnel-bench

CERTS=$OUT/certs
"$BENCH/make-certs.sh" "$CERTS" "$NAME"

# Ports, all on 127.0.0.1.
declare -A P_CLI P_SRV P_RELAY CPID SPID
read -r P_IPERF P_NGINX P_ECHO "P_CLI[stunnel]" "P_SRV[stunnel]" "P_RELAY[stunnel]" "P_CLI[tunnel]" "P_SRV[tunnel]" \
  "P_RELAY[tunnel]" "P_CLI[tunnel-mux]" "P_SRV[tunnel-mux]" "P_RELAY[tunnel-mux]" P_DIRECT_RELAY < <(free_ports 13)
IMPLS=(stunnel tunnel tunnel-mux)
cp "$MUX_CONFIG" "$OUT/conf/tunnel-client-mux.json"  # the file the tunnel-mux pair ran with, for the report

# ---------------------------------------------------------------------------------------------------------------
# The machine and the versions, for the report.
stunnel_version=$(stunnel -version 2>&1 | grep -m1 '^stunnel ' || true)
stunnel_ssl=$(stunnel -version 2>&1 | grep -m1 -i 'compiled with\|running with' | sed 's/^ *//' || true)
stunnel_threading=$(stunnel -version 2>&1 | grep -m1 -o 'Threading:[A-Z]*' || true)
"$PY" - "$OUT/meta.json" <<EOF
import json, sys
meta = {
  "mode": "$MODE", "runs": $RUNS, "duration_s": $DUR, "warmup_s": $WARM, "mem_ns": "$MEM_NS", "ttfb_n": $TTFB_N,
  "stamp": "$STAMP",
  "cpu": """$(lscpu | sed -n 's/^Model name: *//p' | head -1)""",
  "cores": "$(nproc)",
  "memory": "$(free -g | awk '/^Mem:/ {print $2}') GiB",
  "kernel": "$(uname -sr)",
  "os": """$(. /etc/os-release && echo "$PRETTY_NAME")""",
  "openssl": "$(openssl version)",
  "stunnel": "$stunnel_version; $stunnel_ssl; $stunnel_threading",
  "dotnet": "$(dotnet --list-runtimes | awk '/Microsoft.NETCore.App/ {print $2}' | tail -1) (SDK $(dotnet --version))",
  "nginx": """$(nginx -v 2>&1 | sed 's/^nginx version: //')""",
  "iperf3": "$(iperf3 --version | head -1)",
  "wrk": "$(wrk --version 2>&1 | head -1 | awk '{print $1, $2}')",
  "tunnel_commit": "$(git -C "$ROOT" rev-parse --short HEAD)$(git -C "$ROOT" diff --quiet HEAD -- src bench || echo '+uncommitted')",
  "fd_limit": $FD_LIMIT,
  "publish_args": "$PUBLISH_ARGS",
  "publish": "$(echo "scripts/publish.sh $PUBLISH_FORM OUTDIR $PUBLISH_ARGS" | tr -s ' ' | sed 's/ $//')$([ -z "$PUBLISH_FORM" ] && echo ' (Native AOT, the shipped form)' || echo ' (self-contained JIT)')",
  "load_before": "$(cut -d' ' -f1-3 /proc/loadavg)",
  "delay_ms": $DELAY_MS,
  "impls": "${IMPLS[*]}",
  "mux_client_config": "$MUX_SHOWN",
  "mux_config_override": $MUX_OVERRIDE,
}
json.dump(meta, open(sys.argv[1], "w"), indent=1)
EOF

# ---------------------------------------------------------------------------------------------------------------
# Pairs. start_pair IMPL UPSTREAM_PORT [via-relay] TAG: the client-side process listens on P_CLI[IMPL] and connects
# to the server-side process (P_SRV[IMPL]) directly, or through the delaying relay on P_RELAY[IMPL]. tunnel and
# tunnel-mux run the same tunnel-server command; only the client's --config differs. Returns non-zero (after noting
# it in failures.txt) if either process does not listen; the section goes on, and the pair's figures get no number.
# launch LOGFILE PORT CMD...: start_bg, or with TIMED=1 bench/startup.py, which also times exec -> PORT accepting a
# TCP connect (polled every 2 ms, 15 s deadline) into LAST_MS ("null" if it never listened). Sets LAST_PID.
TIMED=0
launch() {
  local logfile=$1 port=$2; shift 2
  if [ "$TIMED" = 1 ]; then
    local line
    line=$("$PY" "$BENCH/startup.py" listen "$port" "$logfile" 15 "$FD_LIMIT" -- "$@" || true)
    LAST_PID=${line%% *}; LAST_MS=${line##* }
    [ -n "$LAST_PID" ] && PIDS+=("$LAST_PID")
  else
    start_bg "$logfile" "$@"; LAST_MS=null
  fi
}
start_pair() {
  local impl=$1 upstream=$2 via=${3:-} tag=$1-${4:-x}
  local connect=${P_SRV[$impl]}
  [ "$via" = via-relay ] && connect=${P_RELAY[$impl]}
  CPID[$impl]=; SMS=null; CMS=null
  # The server first, and the client only once the server listens: tunnel-client dials at start (warm pool,
  # multiplexed connections), and refused dials would put the server behind its circuit breaker for seconds.
  if [ "$impl" = stunnel ]; then
    stunnel_conf server "${P_SRV[$impl]}" "$upstream"
    stunnel_conf client "${P_CLI[$impl]}" "$connect"
    launch "$OUT/logs/$tag-server.log" "${P_SRV[$impl]}" stunnel "$OUT/conf/stunnel-server.conf"; SPID[$impl]=$LAST_PID; SMS=$LAST_MS
    if wait_port "${P_SRV[$impl]}" "${SPID[$impl]}"; then
      launch "$OUT/logs/$tag-client.log" "${P_CLI[$impl]}" stunnel "$OUT/conf/stunnel-client.conf"; CPID[$impl]=$LAST_PID; CMS=$LAST_MS
    fi
  else
    launch "$OUT/logs/$tag-server.log" "${P_SRV[$impl]}" "$PUB/tunnel-server" --config "$BENCH/tunnel-server.json" \
      --listen "127.0.0.1:${P_SRV[$impl]}" --upstream "127.0.0.1:$upstream" \
      --cert "$CERTS/server.pem" --key "$CERTS/server.key" --ca "$CERTS/ca.pem"
    SPID[$impl]=$LAST_PID; SMS=$LAST_MS
    local client_config=$BENCH/tunnel-client.json
    [ "$impl" = tunnel-mux ] && client_config=$MUX_CONFIG
    if wait_port "${P_SRV[$impl]}" "${SPID[$impl]}"; then
      launch "$OUT/logs/$tag-client.log" "${P_CLI[$impl]}" "$PUB/tunnel-client" --config "$client_config" \
        --listen "127.0.0.1:${P_CLI[$impl]}" --server "127.0.0.1:$connect" --server-name "$NAME" \
        --cert "$CERTS/client.pem" --key "$CERTS/client.key" --ca "$CERTS/ca.pem"
      CPID[$impl]=$LAST_PID; CMS=$LAST_MS
    fi
  fi
  if [ -n "${CPID[$impl]}" ] && wait_port "${P_CLI[$impl]}" "${CPID[$impl]}"; then return 0; fi
  local why
  why=$(cat "$OUT/logs/$tag-server.log" "$OUT/logs/$tag-client.log" 2>/dev/null | grep -v '^[[:space:]]*$' | tail -2 | tr -s '\n ' '  ')
  echo "pair $impl did not start ($tag): ${why:-no output}" >>"$FAILURES"  # the pair's logs: logs/$tag-*.log
  log "FAILED: pair $impl did not start ($tag): ${why:-no output}"
  return 1
}
stop_pair() { stop_pids "${CPID[$1]:-}" "${SPID[$1]:-}"; CPID[$1]=; SPID[$1]=; }

# The exact commands, for the report.
{
  echo "bench/run.sh --$MODE"
  echo "stunnel $OUT/conf/stunnel-server.conf   # bench/stunnel-server.conf.in"
  echo "stunnel $OUT/conf/stunnel-client.conf   # bench/stunnel-client.conf.in"
  echo "tunnel-server --config bench/tunnel-server.json --listen 127.0.0.1:SRV --upstream 127.0.0.1:UPSTREAM --cert server.pem --key server.key --ca ca.pem"
  echo "tunnel-client --config bench/tunnel-client.json --listen 127.0.0.1:CLI --server 127.0.0.1:SRV --server-name $NAME --cert client.pem --key client.key --ca ca.pem"
  echo "# tunnel-mux pair: the same tunnel-server command; its client differs by the config file only"
  echo "tunnel-client --config $MUX_SHOWN --listen 127.0.0.1:CLI --server 127.0.0.1:SRV --server-name $NAME --cert client.pem --key client.key --ca ca.pem"
  echo "iperf3 -s -B 127.0.0.1 -p UPSTREAM"
  echo "iperf3 -c 127.0.0.1 -p CLI -t $DUR -P {1,8} [-R] -J"
  echo "nginx (1 worker, access_log off, keepalive_requests 1000000) serving 1k.bin (1024 bytes) and / (index.html)"
  echo "wrk -t2 -c50 -d${DUR}s --latency -H 'Connection: close' http://127.0.0.1:CLI/1k.bin   # and -t1 -c1"
  echo "wrk -t2 -c50 -d${DUR}s --latency http://127.0.0.1:CLI/1k.bin"
  echo "tunnel-bench echo --listen 127.0.0.1:UPSTREAM"
  echo "tunnel-bench hold --target 127.0.0.1:CLI --count N --concurrency $HOLD_CONCURRENCY --payload-bytes 16 ..."
  echo "tunnel-bench delay --listen 127.0.0.1:RELAY --target 127.0.0.1:SRV --delay-ms $DELAY_MS --emulate-connect true"
  echo "tunnel-bench ttfb --target 127.0.0.1:CLI --count $TTFB_N   # GET / HTTP/1.1, Connection: close"
} >"$OUT/commands.txt"

pause() { sleep "$PAUSE"; }

# ---------------------------------------------------------------------------------------------------------------
# 1 + 6a. Bulk throughput (iperf3) and CPU per GB.
section_bulk() {
  log "bulk throughput: iperf3, 1 and 8 streams, both directions"
  start_bg "$OUT/logs/iperf3-server.log" iperf3 -s -B 127.0.0.1 -p "$P_IPERF"
  local iperf_pid=$LAST_PID impl run p dir
  wait_port "$P_IPERF" "$iperf_pid"
  for impl in "${IMPLS[@]}"; do start_pair "$impl" "$P_IPERF" "" bulk || true; done
  for impl in "${IMPLS[@]}"; do
    iperf3_client "$OUT/tmp/iperf-$impl-warm.log" 30 -c 127.0.0.1 -p "${P_CLI[$impl]}" -t "$WARM" -P 2 || log "warm-up failed: $impl"
    pause
  done
  for run in $(seq "$RUNS"); do
    for p in 1 8; do
      for dir in up down; do
        for impl in "${IMPLS[@]}"; do
          local flags=() json=$OUT/tmp/iperf-$impl-$p-$dir-$run.json c0 c1 parsed gbps bytes
          [ "$dir" = down ] && flags=(-R)
          local cc0 cc1
          cc0=$(cpu_ticks "${CPID[$impl]}"); c0=$(cpu_ticks "${CPID[$impl]}" "${SPID[$impl]}")
          iperf3_client "$json" $((DUR + 20)) -c 127.0.0.1 -p "${P_CLI[$impl]}" -t "$DUR" -P "$p" "${flags[@]}" -J || true
          cc1=$(cpu_ticks "${CPID[$impl]}"); c1=$(cpu_ticks "${CPID[$impl]}" "${SPID[$impl]}")
          parsed=$("$PY" -c 'import json,sys; e=json.load(open(sys.argv[1]))["end"]["sum_received"]; print(e["bits_per_second"]/1e9, e["bytes"])' "$json" 2>/dev/null || echo "null 0")
          read -r gbps bytes <<<"$parsed"
          record "bulk.p$p.$dir" "$impl" "$run" "$gbps"
          if [ "$gbps" != null ] && [ "$bytes" -gt 0 ]; then
            record "cpu.bulk.p$p.$dir" "$impl" "$run" "$(calc "($c1-$c0)/$CLK_TCK/($bytes/1e9)")" \
              "{\"clientShare\":$(calc "($cc1-$cc0)/max(1,$c1-$c0)")}"
          else
            record "cpu.bulk.p$p.$dir" "$impl" "$run" null
          fi
          log "  run $run P$p $dir $impl: $gbps Gbit/s"
          pause
        done
      done
    done
  done
  # Context, once: the same load without a tunnel.
  local json=$OUT/tmp/iperf-direct.json
  iperf3_client "$json" $((DUR + 20)) -c 127.0.0.1 -p "$P_IPERF" -t "$DUR" -P 1 -J || true
  record ctx.bulk.p1.up direct 1 "$("$PY" -c 'import json,sys; print(json.load(open(sys.argv[1]))["end"]["sum_received"]["bits_per_second"]/1e9)' "$json" 2>/dev/null || echo null)"
  for impl in "${IMPLS[@]}"; do stop_pair "$impl"; done
  stop_pid "$iperf_pid"
}

# ---------------------------------------------------------------------------------------------------------------
# nginx upstream for the HTTP figures.
start_nginx() {
  local dir=$OUT/nginx
  mkdir -p "$dir/www" "$dir/tmp"
  head -c 1024 /dev/zero | tr '\0' 'x' >"$dir/www/1k.bin"
  printf '<!doctype html><title>bench</title><p>hello\n' >"$dir/www/index.html"
  chmod -R a+rX "$dir"
  cat >"$dir/nginx.conf" <<EOF
worker_processes 1;
pid $dir/nginx.pid;
error_log $dir/error.log warn;
events { worker_connections 4096; }
http {
  access_log off;
  keepalive_requests 1000000;
  keepalive_timeout 65s;
  client_body_temp_path $dir/tmp/body;
  proxy_temp_path $dir/tmp/proxy;
  fastcgi_temp_path $dir/tmp/fastcgi;
  uwsgi_temp_path $dir/tmp/uwsgi;
  scgi_temp_path $dir/tmp/scgi;
  default_type application/octet-stream;
  server {
    listen 127.0.0.1:$P_NGINX;
    root $dir/www;
  }
}
EOF
  start_bg "$OUT/logs/nginx.log" nginx -p "$dir" -c "$dir/nginx.conf" -g 'daemon off;'
  NGINX_PID=$LAST_PID
  wait_port "$P_NGINX" "$NGINX_PID"
}

wrk_run() { # wrk_run OUTFILE THREADS CONNS DURATION URL [close] -> prints "rate p50_ms p90_ms p99_ms requests errors"
  local out=$1 t=$2 c=$3 d=$4 url=$5 close=${6:-}
  local hdr=()
  [ "$close" = close ] && hdr=(-H "Connection: close")
  timeout $((d + 30)) wrk -t"$t" -c"$c" -d"${d}s" --latency "${hdr[@]}" "$url" >"$out" 2>&1 || true
  "$PY" "$BENCH/parse_wrk.py" "$out" 2>/dev/null || echo "null null null null 0 0"
}

# 2 + 3 + 6b. One connection per request, then kept-alive connections.
section_http() {
  log "HTTP: one new connection per request (50 and 1 connections), then keep-alive (50 connections)"
  local impl run c
  for impl in "${IMPLS[@]}"; do start_pair "$impl" "$P_NGINX" "" http || true; done
  for impl in "${IMPLS[@]}"; do
    wrk_run "$OUT/tmp/wrk-warm-$impl.txt" 2 20 "$WARM" "http://127.0.0.1:${P_CLI[$impl]}/1k.bin" close >/dev/null
    wrk_run "$OUT/tmp/wrk-warm-ka-$impl.txt" 2 20 "$WARM" "http://127.0.0.1:${P_CLI[$impl]}/1k.bin" >/dev/null
    pause
  done
  for run in $(seq "$RUNS"); do
    for c in 50 1; do
      for impl in "${IMPLS[@]}"; do
        local t=2 c0 c1 rate p50 p90 p99 requests errors
        [ "$c" = 1 ] && t=1
        local cc0 cc1
        cc0=$(cpu_ticks "${CPID[$impl]}"); c0=$(cpu_ticks "${CPID[$impl]}" "${SPID[$impl]}")
        read -r rate p50 p90 p99 requests errors < <(wrk_run "$OUT/tmp/wrk-close-c$c-$impl-$run.txt" $t "$c" "$DUR" "http://127.0.0.1:${P_CLI[$impl]}/1k.bin" close)
        cc1=$(cpu_ticks "${CPID[$impl]}"); c1=$(cpu_ticks "${CPID[$impl]}" "${SPID[$impl]}")
        local extra="{\"requests\":${requests:-0},\"errors\":${errors:-0}}"
        record "cpr.c$c.rate" "$impl" "$run" "$rate" "$extra"
        record "cpr.c$c.p50" "$impl" "$run" "$p50"
        record "cpr.c$c.p90" "$impl" "$run" "$p90"
        record "cpr.c$c.p99" "$impl" "$run" "$p99"
        if [ "${requests:-0}" -gt 0 ]; then
          record "cpu.cpr.c$c" "$impl" "$run" "$(calc "($c1-$c0)/$CLK_TCK*1000/$requests")" \
            "{\"clientShare\":$(calc "($cc1-$cc0)/max(1,$c1-$c0)")}"
        else
          record "cpu.cpr.c$c" "$impl" "$run" null
        fi
        log "  run $run close c$c $impl: $rate conn/s, p50 $p50 ms, p90 $p90 ms, p99 $p99 ms, errors $errors"
        sleep "$TW_WAIT" # let TIME_WAIT and the pair settle
      done
    done
    for impl in "${IMPLS[@]}"; do
      local rate p50 p90 p99 requests errors
      read -r rate p50 p90 p99 requests errors < <(wrk_run "$OUT/tmp/wrk-ka-$impl-$run.txt" 2 50 "$DUR" "http://127.0.0.1:${P_CLI[$impl]}/1k.bin")
      record "ka.c50.rate" "$impl" "$run" "$rate" "{\"requests\":${requests:-0},\"errors\":${errors:-0}}"
      record "ka.c50.p50" "$impl" "$run" "$p50"
      record "ka.c50.p99" "$impl" "$run" "$p99"
      log "  run $run keep-alive c50 $impl: $rate req/s, p50 $p50 ms, p99 $p99 ms, errors $errors"
      pause
    done
  done
  # Context, once: the same loads straight to nginx, no tunnel.
  local rate p50 p90 p99 requests errors
  read -r rate p50 p90 p99 requests errors < <(wrk_run "$OUT/tmp/wrk-close-direct.txt" 2 50 "$DUR" "http://127.0.0.1:$P_NGINX/1k.bin" close)
  record ctx.cpr.c50.rate direct 1 "$rate"; record ctx.cpr.c50.p99 direct 1 "$p99"
  read -r rate p50 p90 p99 requests errors < <(wrk_run "$OUT/tmp/wrk-ka-direct.txt" 2 50 "$DUR" "http://127.0.0.1:$P_NGINX/1k.bin")
  record ctx.ka.c50.rate direct 1 "$rate"; record ctx.ka.c50.p99 direct 1 "$p99"
  for impl in "${IMPLS[@]}"; do stop_pair "$impl"; done
}

# ---------------------------------------------------------------------------------------------------------------
# 5. Time to first byte of a new tunneled connection over a path with 25 ms one-way delay.
section_ttfb() {
  log "TTFB: $DELAY_MS ms one-way delay between client side and server side, $TTFB_N sequential connections"
  local impl run relays=()
  for impl in "${IMPLS[@]}"; do
    start_bg "$OUT/logs/relay-$impl.log" "$TOOL" delay --listen "127.0.0.1:${P_RELAY[$impl]}" \
      --target "127.0.0.1:${P_SRV[$impl]}" --delay-ms "$DELAY_MS" --emulate-connect true --max-seconds 1800
    relays+=("$LAST_PID")
    wait_port "${P_RELAY[$impl]}" "$LAST_PID"
    start_pair "$impl" "$P_NGINX" via-relay ttfb || true
  done
  for impl in "${IMPLS[@]}"; do
    timeout 60 "$TOOL" ttfb --target "127.0.0.1:${P_CLI[$impl]}" --count 3 >/dev/null 2>&1 || log "warm-up failed: $impl"
  done
  for run in $(seq "$RUNS"); do
    for impl in "${IMPLS[@]}"; do
      local json=$OUT/tmp/ttfb-$impl-$run.json p50 p90
      timeout $((TTFB_N * 11 + 10)) "$TOOL" ttfb --target "127.0.0.1:${P_CLI[$impl]}" --count "$TTFB_N" >"$json" 2>&1 || true
      read -r p50 p90 < <("$PY" -c 'import json,sys; d=json.load(open(sys.argv[1])); print(d["p50Ms"] if d["failed"]==0 else None, d["p90Ms"] if d["failed"]==0 else None)' "$json" 2>/dev/null | sed 's/None/null/g' || echo "null null")
      record "ttfb.p50" "$impl" "$run" "$p50"
      record "ttfb.p90" "$impl" "$run" "$p90"
      log "  run $run TTFB $impl: p50 $p50 ms, p90 $p90 ms"
      pause
    done
  done
  # Context, once: plain TCP through the same delay straight to nginx (no TLS): the floor for a new connection.
  start_bg "$OUT/logs/relay-direct.log" "$TOOL" delay --listen "127.0.0.1:$P_DIRECT_RELAY" \
    --target "127.0.0.1:$P_NGINX" --delay-ms "$DELAY_MS" --emulate-connect true --max-seconds 600
  relays+=("$LAST_PID")
  if wait_port "$P_DIRECT_RELAY" "$LAST_PID"; then
    local json=$OUT/tmp/ttfb-direct.json
    timeout $((TTFB_N * 11 + 10)) "$TOOL" ttfb --target "127.0.0.1:$P_DIRECT_RELAY" --count "$TTFB_N" >"$json" 2>&1 || true
    record ctx.ttfb.p50 direct 1 "$("$PY" -c 'import json,sys; print(json.load(open(sys.argv[1]))["p50Ms"])' "$json" 2>/dev/null || echo null)"
  fi
  for impl in "${IMPLS[@]}"; do stop_pair "$impl"; done
  stop_pids "${relays[@]}"
}

# ---------------------------------------------------------------------------------------------------------------
# 4. Memory per idle tunneled connection, refused/dropped connections, memory after close.
conns() { # TCP connections (not listeners) the process holds, from ss; TIME-WAIT has no owner and does not count
  ss -Htanp 2>/dev/null | grep -v '^LISTEN' | grep -c "pid=$1," || true
}
# A client setting's number from a config file, or DEFAULT when the file does not set it.
config_int() { grep -oE "\"$2\"[[:space:]]*:[[:space:]]*[0-9]+" "$1" | grep -oE '[0-9]+$' || echo "$3"; }
# The warm pool size the Tunnel client runs with (kept in step with bench/tunnel-client.json).
TUNNEL_POOL=$(config_int "$BENCH/tunnel-client.json" poolSize 2)
# The tunnel-mux client's multiplexed TLS connections and streams per connection (defaults: the product's, 2 and 1024).
MUX_CONNS=$(config_int "$MUX_CONFIG" multiplexConnections 2)
MUX_STREAMS=$(config_int "$MUX_CONFIG" multiplexStreams 1024)

wait_no_conns() { # wait_no_conns PID SECONDS [BASE]: until the process holds no more connections than BASE (its own
  # standing connections, e.g. tunnel-client's warm pool; default 0)
  local pid=$1 limit=$2 base=${3:-0} i
  for i in $(seq $((limit * 4))); do
    [ "$(conns "$pid")" -le "$base" ] && return 0
    sleep 0.25
  done
  return 1
}

hold() { # hold IMPL COUNT TAG: runs the holder in the background; sets HOLD_PID, HOLD_READY, HOLD_RELEASE, HOLD_OUT
  HOLD_READY=$OUT/tmp/hold-$3.ready; HOLD_RELEASE=$OUT/tmp/hold-$3.release; HOLD_OUT=$OUT/tmp/hold-$3.json
  rm -f "$HOLD_READY" "$HOLD_RELEASE"
  start_bg "$HOLD_OUT" "$TOOL" hold --target "127.0.0.1:${P_CLI[$1]}" --count "$2" --concurrency "$HOLD_CONCURRENCY" \
    --payload-bytes 16 --echo-timeout 20 --deadline 300 --ready-file "$HOLD_READY" --release-file "$HOLD_RELEASE" --max-hold 600
  HOLD_PID=$LAST_PID
}
wait_file() { local f=$1 limit=$2 i; for i in $(seq $((limit * 10))); do [ -s "$f" ] && return 0; sleep 0.1; done; return 1; }

memory_run() { # memory_run IMPL N RUN
  local impl=$1 n=$2 run=$3 tag=$1-$2-$3
  if ! start_pair "$impl" "$P_ECHO" "" "mem-$n-$run"; then
    stop_pair "$impl"
    for f in client_kb server_kb failed client_after_mb server_after_mb retained_pct; do record "mem.$n.$f" "$impl" "$run" null; done
    record mem.idle.client_mb "$impl" "$run" null; record mem.idle.server_mb "$impl" "$run" null
    return
  fi
  local cp=${CPID[$impl]} sp=${SPID[$impl]}
  # Warm-up: a few tunnels, so code paths are loaded (JIT for .NET) before the baseline is taken.
  hold "$impl" 20 "$tag-warm"; wait_file "$HOLD_READY" 60 || true; touch "$HOLD_RELEASE"; stop_pid "$HOLD_PID"
  # Connections a pair keeps on its own, on each side: tunnel-client's warm pool (poolSize in
  # bench/tunnel-client.json); for tunnel-mux its multiplexed TLS connections (multiplexConnections) instead. Under
  # load the tunnel-mux server holds those plus one upstream connection per tunneled connection, its client those
  # plus one accepted connection per tunneled connection; RSS per connection is (loaded - idle) / N all the same.
  local standing=0
  [ "$impl" = tunnel ] && standing=$TUNNEL_POOL
  [ "$impl" = tunnel-mux ] && standing=$MUX_CONNS
  wait_no_conns "$cp" 30 "$standing" || true; wait_no_conns "$sp" 30 "$standing" || true
  # Idle: IDLE s with no connection opened or closed (Tunnel gives memory back after 2-4 s quiet; stunnel holds still).
  sleep "$IDLE"
  local cbase sbase cfd0 sfd0
  cbase=$(rss_kb "$cp"); sbase=$(rss_kb "$sp")
  cfd0=$(fds "$cp"); sfd0=$(fds "$sp")
  local cconn0 sconn0
  cconn0=$(conns "$cp"); sconn0=$(conns "$sp")

  hold "$impl" "$n" "$tag"
  local summary=null
  if wait_file "$HOLD_READY" 330; then summary=$(cat "$HOLD_READY"); fi
  sleep "$SETTLE"
  local cpeak speak cthr sthr cfd sfd
  cpeak=$(rss_kb "$cp"); speak=$(rss_kb "$sp")
  cthr=$(threads "$cp"); sthr=$(threads "$sp"); cfd=$(fds "$cp"); sfd=$(fds "$sp")
  touch "$HOLD_RELEASE"
  local i
  for i in $(seq 600); do kill -0 "$HOLD_PID" 2>/dev/null || break; sleep 0.1; done
  stop_pid "$HOLD_PID"
  local final
  final=$(tail -1 "$HOLD_OUT" 2>/dev/null || true)
  # tunnel-mux opened another TLS connection beside each one that carried multiplexStreams streams; those extra
  # ones close only after 30-60 s idle, as the product intends, so they do not count as left-over tunneled
  # connections here (their few kB of TLS state are in the "after close" figure).
  local lingering=0
  [ "$impl" = tunnel-mux ] && lingering=$(( (n + MUX_STREAMS - 1) / MUX_STREAMS - MUX_CONNS ))
  [ "$lingering" -gt 0 ] || lingering=0
  local closed=true
  wait_no_conns "$cp" 60 $((cconn0 + lingering)) || closed=false
  wait_no_conns "$sp" 60 $((sconn0 + lingering)) || closed=false
  # "Returned after close" is what an operator sees a few seconds later, not the instant the last socket closes:
  # both pairs get the same 5 s more (Tunnel trims within about 4 s of a drop).
  sleep $((SETTLE + 5))
  local cafter safter
  cafter=$(rss_kb "$cp"); safter=$(rss_kb "$sp")
  stop_pair "$impl"

  local est failed
  read -r est failed < <("$PY" -c '
import json, sys
try:
    s = json.loads(sys.argv[1]); f = json.loads(sys.argv[2])
    est = s["established"]
    lost = s["refused"] + s["dropped"] + s["timedOut"] + s["notTried"] + (est - f["aliveAfterHold"])
    print(est, lost)
except Exception:
    print(0, "null")' "$summary" "${final:-null}")
  local extra="{\"summary\":$summary,\"final\":${final:-null},\"rssKb\":{\"client\":[$cbase,$cpeak,$cafter],\"server\":[$sbase,$speak,$safter]},\"threads\":[$cthr,$sthr],\"fds\":[$cfd0,$cfd,$sfd0,$sfd],\"closed\":$closed}"
  if [ "$est" -gt 0 ]; then
    record "mem.$n.client_kb" "$impl" "$run" "$(calc "($cpeak-$cbase)/$est")" "$extra"
    record "mem.$n.server_kb" "$impl" "$run" "$(calc "($speak-$sbase)/$est")"
  else
    record "mem.$n.client_kb" "$impl" "$run" null "$extra"
    record "mem.$n.server_kb" "$impl" "$run" null
  fi
  record "mem.$n.failed" "$impl" "$run" "$failed"
  if [ "$closed" = true ]; then
    record "mem.$n.client_after_mb" "$impl" "$run" "$(calc "($cafter-$cbase)/1024")"
    record "mem.$n.server_after_mb" "$impl" "$run" "$(calc "($safter-$sbase)/1024")"
    record "mem.$n.retained_pct" "$impl" "$run" "$(calc "100*($cafter+$safter-$cbase-$sbase)/max(1,$cpeak+$speak-$cbase-$sbase)")"
  else
    log "  $impl still holds connections 60 s after the close"
    for f in client_after_mb server_after_mb retained_pct; do record "mem.$n.$f" "$impl" "$run" null; done
  fi
  record "mem.idle.client_mb" "$impl" "$run" "$(calc "$cbase/1024")"
  record "mem.idle.server_mb" "$impl" "$run" "$(calc "$sbase/1024")"
  log "  run $run N=$n $impl: established $est, lost $failed; RSS client $cbase→$cpeak→$cafter kB, server $sbase→$speak→$safter kB; threads $cthr/$sthr"
}

section_memory() {
  log "memory: idle tunneled connections ($MEM_NS), each with one echoed round trip, fd limit $FD_LIMIT"
  local n run impl
  for n in $MEM_NS; do
    for run in $(seq "$RUNS"); do
      for impl in "${IMPLS[@]}"; do
        memory_run "$impl" "$n" "$run"
        pause
      done
    done
  done
}

# ---------------------------------------------------------------------------------------------------------------
# 7. Start-up: exec to listening for each process of a pair (bench/startup.py: the time from just before the exec to
# the first TCP connect the port accepts), then the certificate commands an operator runs first, each in a fresh
# folder: Tunnel's `tunnel-server certs init-ca` / `certs issue server`, stunnel's the openssl commands that make the
# same (an ECDSA P-256 key, a self-signed CA; a key, a CSR, a certificate signed by the CA), through one sh -c.
section_startup() {
  log "start-up: exec to listening, certificate commands"
  local run impl dir ms
  for run in $(seq "$RUNS"); do
    for impl in "${IMPLS[@]}"; do
      TIMED=1
      if start_pair "$impl" "$P_ECHO" "" "start-$run"; then
        record start.server_ms "$impl" "$run" "$SMS"
        record start.client_ms "$impl" "$run" "$CMS"
        log "  run $run $impl: server listening after $SMS ms, client after $CMS ms"
      else
        record start.server_ms "$impl" "$run" "$SMS"; record start.client_ms "$impl" "$run" "$CMS"
      fi
      TIMED=0
      stop_pair "$impl"
      dir=$OUT/tmp/certs-$impl-$run; rm -rf "$dir"; mkdir -p "$dir"
      if [ "$impl" = stunnel ]; then
        ms=$("$PY" "$BENCH/startup.py" run 30 -- sh -c "$OPENSSL_INIT_CA" sh "$dir" || true)
        record certs.init_ca_ms "$impl" "$run" "$ms"
        ms=$("$PY" "$BENCH/startup.py" run 30 -- sh -c "$OPENSSL_ISSUE" sh "$dir" "$NAME" || true)
        record certs.issue_ms "$impl" "$run" "$ms"
      else
        ms=$("$PY" "$BENCH/startup.py" run 30 -- "$PUB/tunnel-server" certs init-ca --dir "$dir" || true)
        record certs.init_ca_ms "$impl" "$run" "$ms"
        ms=$("$PY" "$BENCH/startup.py" run 30 -- "$PUB/tunnel-server" certs issue server "$NAME" --dir "$dir" --ip 127.0.0.1 || true)
        record certs.issue_ms "$impl" "$run" "$ms"
      fi
      rm -rf "$dir"
      pause
    done
  done
}
# What `certs init-ca` and `certs issue server` do, with openssl (the stunnel side of the certs figures; $1 = folder).
OPENSSL_INIT_CA='cd "$1" && umask 077 && openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out ca.key 2>/dev/null &&
  openssl req -x509 -new -key ca.key -sha256 -days 3650 -subj "/CN=Tunnel CA" -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign" -out ca.pem'
OPENSSL_ISSUE='cd "$1" && umask 077 && openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out server.key 2>/dev/null &&
  openssl req -new -key server.key -subj "/CN=$2" -out server.csr &&
  printf "basicConstraints=critical,CA:FALSE\nkeyUsage=critical,digitalSignature\nextendedKeyUsage=serverAuth\nsubjectAltName=DNS:$2,IP:127.0.0.1\n" >server.ext &&
  openssl x509 -req -in server.csr -CA ca.pem -CAkey ca.key -CAcreateserial -sha256 -days 397 -extfile server.ext -out server.pem 2>/dev/null'

# ---------------------------------------------------------------------------------------------------------------
# One TLS check per server: protocol, cipher and group as negotiated (recorded for the report). tunnel-mux runs the
# same tunnel-server with the same settings as tunnel, so it is not checked twice.
tls_check() {
  local impl
  for impl in stunnel tunnel; do
    start_pair "$impl" "$P_NGINX" "" tlscheck || true
    timeout 10 openssl s_client -connect "127.0.0.1:${P_SRV[$impl]}" -servername "$NAME" -CAfile "$CERTS/ca.pem" \
      -cert "$CERTS/client.pem" -key "$CERTS/client.key" -verify_return_error -brief </dev/null \
      >"$OUT/logs/tls-$impl.txt" 2>&1 || true
    stop_pair "$impl"
  done
}

wanted() { [[ ",$ONLY," == *",$1,"* ]]; }
start_nginx
tls_check
if wanted bulk; then section_bulk; fi
if wanted http; then section_http; fi
if wanted ttfb; then section_ttfb; fi
stop_pid "$NGINX_PID"
if wanted memory || wanted startup; then
  start_bg "$OUT/logs/echo.log" "$TOOL" echo --listen "127.0.0.1:$P_ECHO" --max-seconds 3600
  ECHO_PID=$LAST_PID
  wait_port "$P_ECHO" "$ECHO_PID"
fi
if wanted memory; then section_memory; fi
if wanted startup; then section_startup; fi
[ -z "${ECHO_PID:-}" ] || stop_pid "$ECHO_PID"

"$PY" - "$OUT/meta.json" "$STARTED" <<'EOF'
import json, sys, time
meta = json.load(open(sys.argv[1]))
meta["load_after"] = " ".join(open("/proc/loadavg").read().split()[:3])
meta["elapsed_s"] = int(time.time() - int(sys.argv[2]))
json.dump(meta, open(sys.argv[1], "w"), indent=1)
EOF

log "writing the report"
status=0
"$PY" "$BENCH/report.py" "$OUT" || { status=$?; log "the report flagged a problem (see above and report.md)"; }
if [ "$MODE" != smoke ] && [ "$ONLY" = bulk,http,ttfb,memory,startup ] && [ "$MUX_OVERRIDE" = False ] && [ -z "$PUBLISH_FORM$PUBLISH_ARGS" ] && [ -f "$OUT/report.md" ]; then
  cp "$OUT/report.md" "$ROOT/docs/benchmarks.md"
  cp "$OUT/ratios.png" "$ROOT/docs/benchmarks.png"
  log "copied to docs/benchmarks.md and docs/benchmarks.png"
fi
if [ -s "$FAILURES" ]; then
  log "some steps produced no number:"; cat "$FAILURES" >&2
  status=1
fi
log "done in $(( $(date +%s) - STARTED )) s: $OUT/report.md"
exit $status
