#!/usr/bin/env bash
# A/B of two Tunnel builds, side by side with stunnel, on bulk throughput (iperf3 through each pair, both
# directions), for tuning work: did this change make the relay faster or cheaper?
#
#   bench/ab.sh [--runs N] [--seconds S] [--streams P] [--mux] [--smoke] BASE [CANDIDATE]
#
#   BASE, CANDIDATE  a git commit-ish (published from a temporary `git worktree`), or a directory that holds
#                    published tunnel-client and tunnel-server; CANDIDATE defaults to the working tree.
#   --runs N         rounds (default 5); each round starts stunnel, BASE and CANDIDATE in turn (BASE and CANDIDATE
#                    swap places every other round), fresh, and
#                    measures up then down on each
#   --seconds S      length of each iperf3 run (default 5), after a 3 s warm-up per pair (.NET compiles on first use)
#   --streams P      iperf3 -P (default 1)
#   --mux            both Tunnel pairs' clients run bench/tunnel-client-mux.json instead of bench/tunnel-client.json
#   --smoke          1 round of 1 s, for CI: checks that the harness works, measures nothing worth quoting
#
# Both Tunnel pairs run this tree's bench/tunnel-*.json, so a build that does not know a setting there fails to start
# (and the run says so). Prints each run and a table of medians (min–max): Gbit/s (iperf3's receiver figure) and
# CPU-seconds per GB relayed by both processes of the pair (utime + stime from /proc), with the ratios
# CANDIDATE/BASE and each/stunnel. Results: bench/results/ab-<UTC timestamp>/ (raw.tsv, summary.md, logs/).
# Everything listens on 127.0.0.1; every process started here is stopped by PID on exit.
set -euo pipefail

RUNS=5 SECONDS_PER_RUN=5 STREAMS=1 CLIENT_JSON=tunnel-client.json WARM=3
ARGS=()
while [ $# -gt 0 ]; do
  case "$1" in
    --runs) RUNS=$2; shift ;;
    --seconds) SECONDS_PER_RUN=$2; shift ;;
    --streams) STREAMS=$2; shift ;;
    --mux) CLIENT_JSON=tunnel-client-mux.json ;;
    --smoke) RUNS=1 SECONDS_PER_RUN=1 WARM=1 ;;
    -h|--help) sed -n '2,21p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    -*) echo "unknown option: $1 (see --help)" >&2; exit 2 ;;
    *) ARGS+=("$1") ;;
  esac
  shift
done
if [ ${#ARGS[@]} -lt 1 ] || [ ${#ARGS[@]} -gt 2 ]; then
  echo "usage: bench/ab.sh [--runs N] [--seconds S] [--streams P] [--mux] [--smoke] BASE [CANDIDATE] (see --help)" >&2
  exit 2
fi

ROOT=$(cd "$(dirname "$0")/.." && pwd)
BENCH=$ROOT/bench
FD_LIMIT=20000
PY=/usr/bin/python3
NAME=bench.tunnel.test
OUT=$BENCH/results/ab-$(date -u +%Y%m%dT%H%M%SZ)
mkdir -p "$OUT/logs" "$OUT/conf"
# shellcheck source=bench/lib.sh
source "$BENCH/lib.sh"
WORKTREES=()
remove_worktrees() {
  local w
  for w in "${WORKTREES[@]}"; do git -C "$ROOT" worktree remove --force "$w" >/dev/null 2>&1 || true; done
}
trap 'cleanup; remove_worktrees' EXIT

"$ROOT/scripts/ensure-packages.sh" stunnel4 iperf3 openssl iproute2 procps
export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1

# publish_build SPEC LABEL: sets PUBLISHED (the directory with tunnel-client and tunnel-server) and REVISION for SPEC:
# a directory, a git commit-ish, or empty for the working tree.
publish_build() {
  local spec=$1 label=$2 src p
  PUBLISHED=$OUT/publish-$label
  if [ -n "$spec" ] && [ -x "$spec/tunnel-client" ] && [ -x "$spec/tunnel-server" ]; then
    PUBLISHED=$(cd "$spec" && pwd) REVISION=$PUBLISHED
    return
  fi
  if [ -z "$spec" ]; then
    src=$ROOT
    REVISION="working tree ($(git -C "$ROOT" rev-parse --short HEAD)$(git -C "$ROOT" diff --quiet HEAD || echo ' + changes'))"
  else
    if ! git -C "$ROOT" rev-parse --verify --quiet "$spec^{commit}" >/dev/null; then
      log "$label: '$spec' is neither a directory with tunnel-client and tunnel-server nor a git commit"
      exit 2
    fi
    src=$OUT/worktree-$label
    git -C "$ROOT" worktree add --detach "$src" "$spec" >/dev/null 2>&1
    WORKTREES+=("$src")
    REVISION="$spec ($(git -C "$ROOT" rev-parse --short "$spec^{commit}"))"
  fi
  log "$label: publishing $REVISION (Release)"
  for p in TunnelServer TunnelClient; do
    if ! dotnet publish "$src/src/$p/$p.csproj" -c Release -o "$PUBLISHED" >>"$OUT/logs/publish-$label.log" 2>&1; then
      log "$label: publish failed, see $OUT/logs/publish-$label.log"
      exit 1
    fi
  done
}
publish_build "${ARGS[0]}" base
BASE_PUB=$PUBLISHED BASE_REV=$REVISION
publish_build "${ARGS[1]:-}" candidate
CAND_PUB=$PUBLISHED CAND_REV=$REVISION

CERTS=$OUT/certs
"$BENCH/make-certs.sh" "$CERTS" "$NAME" >/dev/null
read -r P_IPERF P_SRV P_CLI <<<"$(free_ports 3)"
start_bg "$OUT/logs/iperf3-server.log" iperf3 -s -B 127.0.0.1 -p "$P_IPERF"
IPERF_PID=$LAST_PID
wait_port "$P_IPERF" "$IPERF_PID"

# start_pair IMPL: the pair listening on P_CLI, relaying to iperf3; sets SPID, CPID. The server first: a client
# that dials a server not yet listening would put it behind its circuit breaker.
start_pair() {
  local impl=$1
  if [ "$impl" = stunnel ]; then
    stunnel_conf server "$P_SRV" "$P_IPERF"
    stunnel_conf client "$P_CLI" "$P_SRV"
    start_bg "$OUT/logs/stunnel-server.log" stunnel "$OUT/conf/stunnel-server.conf"; SPID=$LAST_PID
    wait_port "$P_SRV" "$SPID" || return 1
    start_bg "$OUT/logs/stunnel-client.log" stunnel "$OUT/conf/stunnel-client.conf"; CPID=$LAST_PID
  else
    local pub=$BASE_PUB
    [ "$impl" = candidate ] && pub=$CAND_PUB
    start_bg "$OUT/logs/$impl-server.log" "$pub/tunnel-server" --config "$BENCH/tunnel-server.json" \
      --listen "127.0.0.1:$P_SRV" --upstream "127.0.0.1:$P_IPERF" \
      --cert "$CERTS/server.pem" --key "$CERTS/server.key" --ca "$CERTS/ca.pem"
    SPID=$LAST_PID
    wait_port "$P_SRV" "$SPID" || return 1
    start_bg "$OUT/logs/$impl-client.log" "$pub/tunnel-client" --config "$BENCH/$CLIENT_JSON" \
      --listen "127.0.0.1:$P_CLI" --server "127.0.0.1:$P_SRV" --server-name "$NAME" \
      --cert "$CERTS/client.pem" --key "$CERTS/client.key" --ca "$CERTS/ca.pem"
    CPID=$LAST_PID
  fi
  wait_port "$P_CLI" "$CPID"
}

RAW=$OUT/raw.tsv
printf 'impl\tdirection\trun\tgbit_s\tcpu_s_per_gb\n' >"$RAW"
CLK_TCK=$(getconf CLK_TCK)
FAILED=0
log "$RUNS round(s) of ${SECONDS_PER_RUN}s, -P $STREAMS, client config bench/$CLIENT_JSON; base $BASE_REV, candidate $CAND_REV"
for run in $(seq "$RUNS"); do
  # BASE and CANDIDATE swap places every round: a pair's place in the round can move its figures (two A/Bs of the
  # same two builds, swapped, both favoured the last pair by about 15 % on a noisy machine).
  order="stunnel base candidate"
  [ $((run % 2)) -eq 0 ] && order="stunnel candidate base"
  for impl in $order; do
    if ! start_pair "$impl"; then
      log "FAILED: $impl did not start (logs: $OUT/logs/$impl-*.log)"
      FAILED=1
      stop_pids "${CPID:-}" "${SPID:-}"
      continue
    fi
    iperf3_client "$OUT/logs/iperf3-$impl-warm-$run.log" 30 -c 127.0.0.1 -p "$P_CLI" -t "$WARM" -P 2 || true
    for direction in up down; do
      flags=()
      [ "$direction" = down ] && flags=(-R)
      before=$(cpu_ticks "$SPID" "$CPID")
      json=$OUT/logs/iperf3-$impl-$direction-$run.json
      iperf3_client "$json" $((SECONDS_PER_RUN + 20)) -c 127.0.0.1 -p "$P_CLI" -t "$SECONDS_PER_RUN" -P "$STREAMS" "${flags[@]}" -J || true
      after=$(cpu_ticks "$SPID" "$CPID")
      line=$("$PY" - "$json" "$((after - before))" "$CLK_TCK" <<'PYEOF'
import json, sys
try:
    end = json.load(open(sys.argv[1]))["end"]["sum_received"]
except Exception:
    sys.exit(0)
gbit = end["bits_per_second"] / 1e9
gb = end["bytes"] / 1e9
print(f"{gbit:.3f}\t{int(sys.argv[2]) / int(sys.argv[3]) / gb:.3f}" if gb > 0 else "")
PYEOF
)
      if [ -z "$line" ]; then
        log "FAILED: $impl $direction run $run: no iperf3 result ($json)"
        FAILED=1
        continue
      fi
      printf '%s\t%s\t%s\t%s\n' "$impl" "$direction" "$run" "$line" >>"$RAW"
      log "run $run $impl $direction: $(cut -f1 <<<"$line") Gbit/s, $(cut -f2 <<<"$line") CPU-s/GB"
    done
    stop_pids "$CPID" "$SPID"
  done
done

"$PY" - "$RAW" "$BASE_REV" "$CAND_REV" "$RUNS" "$SECONDS_PER_RUN" "$STREAMS" "$CLIENT_JSON" >"$OUT/summary.md" <<'PYEOF'
import csv, statistics, sys
raw, base_rev, cand_rev, runs, secs, streams, client_json = sys.argv[1:]
rows = list(csv.DictReader(open(raw), delimiter="\t"))
def values(impl, direction, key):
    return [float(r[key]) for r in rows if r["impl"] == impl and r["direction"] == direction]
def cell(v):
    return f"{statistics.median(v):.2f} ({min(v):.2f}–{max(v):.2f})" if v else "no number"
def ratio(a, b):
    return f"{statistics.median(a) / statistics.median(b):.2f}×" if a and b else "—"
print(f"# A/B: candidate {cand_rev} against base {base_rev}\n")
print(f"{runs} round(s) of {secs} s, `iperf3 -P {streams}`, both Tunnel clients on `bench/{client_json}`; "
      "medians (min–max).\n")
print("| figure | stunnel | base | candidate | candidate/base | base/stunnel | candidate/stunnel |")
print("|---|---|---|---|---|---|---|")
for direction in ("up", "down"):
    for key, label in (("gbit_s", "Gbit/s"), ("cpu_s_per_gb", "CPU-s/GB")):
        s, b, c = (values(i, direction, key) for i in ("stunnel", "base", "candidate"))
        print(f"| {direction}, {label} | {cell(s)} | {cell(b)} | {cell(c)} | {ratio(c, b)} | {ratio(b, s)} | {ratio(c, s)} |")
PYEOF
cat "$OUT/summary.md"
log "results: $OUT"
exit "$FAILED"
