# Helpers shared by bench/run.sh and bench/ab.sh: logging, processes started and stopped by PID, ports, CPU time.
# The sourcing script sets FD_LIMIT (open-file limit of every process it starts) and PY (python3) first.
# shellcheck shell=bash

log() { printf '%s [bench] %s\n' "$(date -u +%H:%M:%S)" "$*" >&2; }

# ---------------------------------------------------------------------------------------------------------------
# Processes: every one is started here, recorded, and stopped by PID.
PIDS=()
start_bg() { # start_bg LOGFILE CMD... ; sets LAST_PID. Runs with the benchmark's open-file limit.
  local logfile=$1; shift
  ( ulimit -n "$FD_LIMIT"; exec "$@" ) >"$logfile" 2>&1 &
  LAST_PID=$!
  PIDS+=("$LAST_PID")
}
stop_pid() { # stops one of our children and forgets its PID (PIDs wrap fast here: stunnel uses one per connection)
  local pid=$1 i rest=()
  for i in "${PIDS[@]}"; do [ "$i" = "$pid" ] || rest+=("$i"); done
  PIDS=("${rest[@]}")
  if kill -0 "$pid" 2>/dev/null; then
    kill -TERM "$pid" 2>/dev/null || true
    for i in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$pid" 2>/dev/null || true
  fi
  wait "$pid" 2>/dev/null || true
}
stop_pids() { local p; for p in "$@"; do [ -n "$p" ] && stop_pid "$p"; done; }
cleanup() {
  local p
  for p in "${PIDS[@]}"; do stop_pid "$p"; done
  return 0
}
trap cleanup EXIT
trap 'exit 130' INT TERM

wait_port() { # wait_port PORT PID: until something listens on 127.0.0.1:PORT (checked with ss, no connection made)
  local port=$1 pid=$2 i
  for i in $(seq 150); do
    if ss -Hltn "sport = :$port" | grep -q .; then return 0; fi
    kill -0 "$pid" 2>/dev/null || { log "process $pid exited before listening on $port"; return 1; }
    sleep 0.1
  done
  log "nothing listens on $port after 15 s"
  return 1
}

# N distinct free ports below the ephemeral range (32768+), so the thousands of outgoing connections of a run
# can never take one as their local port while its listener is down between sections.
free_ports() {
  "$PY" - "$1" <<'PYEOF'
import random, socket, sys
chosen = []
while len(chosen) < int(sys.argv[1]):
    port = random.randrange(20000, 32000)
    if port in chosen:
        continue
    s = socket.socket()
    try:
        s.bind(("127.0.0.1", port))
        chosen.append(port)
    except OSError:
        pass
    finally:
        s.close()
print(" ".join(map(str, chosen)))
PYEOF
}

iperf3_client() { # iperf3_client OUTFILE TIMEOUT ARGS...: iperf3 -c ARGS, output in OUTFILE; iperf3's exit status. Its
  # server runs one test at a time and is still closing the last one for a moment after a relay in front of it was
  # stopped; a client that arrives then gets "the server is busy running a test", which is retried (up to 40 times,
  # 0.25 s apart).
  local out=$1 limit=$2 try status
  shift 2
  for try in $(seq 40); do
    status=0
    timeout "$limit" iperf3 "$@" >"$out" 2>&1 || status=$?
    grep -q "server is busy" "$out" || return "$status"
    sleep 0.25
  done
  return "$status"
}
cpu_ticks() { # utime+stime of each PID, summed (a process that is gone, e.g. a pair that did not start, counts 0)
  local total=0 pid t
  for pid in "$@"; do
    [ -r "/proc/$pid/stat" ] || continue
    t=$(sed 's/^.*) //' "/proc/$pid/stat" | awk '{print $12 + $13}')
    total=$((total + t))
  done
  echo "$total"
}

# stunnel_conf SIDE LISTEN CONNECT: bench/stunnel-SIDE.conf.in filled in, as $OUT/conf/stunnel-SIDE.conf (SIDE is
# server or client; uses the sourcing script's BENCH, CERTS, NAME and OUT).
stunnel_conf() {
  sed -e "s|@LISTEN@|$2|; s|@CONNECT@|$3|; s|@CERTS@|$CERTS|g; s|@NAME@|$NAME|g" \
    "$BENCH/stunnel-$1.conf.in" >"$OUT/conf/stunnel-$1.conf"
}
