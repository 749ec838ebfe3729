#!/usr/bin/env bash
# Footprint of the daemons' build forms and runtime settings, side by side (issue 17; docs/operations.md "Footprint").
# Publishes each build form into its own folder, then for each candidate (a build form plus DOTNET_ runtime
# settings), RUNS times in turn: starts tunnel-server and tunnel-client on loopback (bench/startup.py times exec to
# the port accepting a TCP connect), warms the pair up with 20 echoed connections through it, waits SETTLE s (idle: 5
# by default; Tunnel gives memory back after 2-4 s with no connection opened or closed) and reads
# each process's VmRSS; then times `tunnel-server certs init-ca` in a fresh folder. stunnel runs the same steps with
# bench/stunnel-*.conf.in. Prints a table of medians (min-max) and writes raw.tsv.
#
#   bench/footprint.sh [--runs N] [--out DIR] [--reuse] [CANDIDATE...]
#
# Candidates (default: all): stunnel; jit (framework-dependent, what test.sh publishes); jit-knobs (jit with
# KNOBS below); r2r (ReadyToRun, framework-dependent); r2r-knobs; trimmed (self-contained, trimmed, JIT);
# aot (Native AOT, -p:TunnelAot=true); aot-knobs. --reuse keeps publish folders from an earlier run in DIR.
# Every process started here listens on 127.0.0.1 and is stopped by PID.
set -euo pipefail
RUNS=5 OUT= REUSE=0 SETTLE=${SETTLE:-5}
CANDS=()
while [ $# -gt 0 ]; do
  case "$1" in
    --runs) RUNS=$2; shift ;;
    --out) OUT=$2; shift ;;
    --reuse) REUSE=1 ;;
    -h|--help) sed -n '2,15p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    -*) echo "unknown argument: $1" >&2; exit 2 ;;
    *) CANDS+=("$1") ;;
  esac
  shift
done
[ ${#CANDS[@]} -gt 0 ] || CANDS=(stunnel jit jit-knobs r2r r2r-knobs trimmed aot aot-knobs)

# The runtime settings tried as "knobs" (environment here; runtimeconfig properties when shipped).
KNOBS=${FOOTPRINT_KNOBS:-"DOTNET_gcConcurrent=0 DOTNET_GCgen0size=0x200000 DOTNET_TieredPGO=0"}

ROOT=$(cd "$(dirname "$0")/.." && pwd)
BENCH=$ROOT/bench
OUT=${OUT:-$BENCH/results/footprint-$(date -u +%Y%m%dT%H%M%SZ)}
mkdir -p "$OUT/logs" "$OUT/conf" "$OUT/pub"
OUT=$(cd "$OUT" && pwd)
PY=/usr/bin/python3
FD_LIMIT=20000
NAME=bench.tunnel.test
export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1
# shellcheck source=bench/lib.sh
source "$BENCH/lib.sh"
rss_kb() { awk '/^VmRSS:/ {print $2}' "/proc/$1/status" 2>/dev/null || echo null; }

form_of() { case "$1" in jit*) echo jit ;; r2r*) echo r2r ;; trimmed*) echo trimmed ;; aot*) echo aot ;; *) echo none ;; esac; }
declare -A PUBLISHED
publish() { # publish FORM: both daemons into $OUT/pub/FORM (once per run)
  local form=$1 dir=$OUT/pub/$1 args=()
  [ -n "${PUBLISHED[$form]:-}" ] && return "${PUBLISHED[$form]}"
  PUBLISHED[$form]=0
  [ "$REUSE" = 1 ] && [ -x "$dir/tunnel-server" ] && [ -x "$dir/tunnel-client" ] && return 0
  case "$form" in
    jit) args=() ;;
    r2r) args=(-r linux-x64 --self-contained false -p:PublishReadyToRun=true) ;;
    trimmed) args=(-r linux-x64 --self-contained true -p:PublishTrimmed=true) ;;
    aot) args=(-p:TunnelAot=true) ;;
  esac
  rm -rf "$dir"
  log "publishing $form"
  local p
  for p in TunnelServer TunnelClient; do
    (cd "$ROOT" && dotnet publish "src/$p/$p.csproj" -c Release -o "$dir" "${args[@]}") >>"$OUT/logs/publish-$form.log" 2>&1 ||
      { log "publish $form failed: $OUT/logs/publish-$form.log"; tail -5 "$OUT/logs/publish-$form.log" >&2; PUBLISHED[$form]=1; return 1; }
  done
}

CERTS=$OUT/certs
"$BENCH/make-certs.sh" "$CERTS" "$NAME"
read -r P_ECHO P_SRV P_CLI < <(free_ports 3)
start_bg "$OUT/logs/echo.log" "$PY" "$BENCH/startup.py" echo "$P_ECHO"; ECHO_PID=$LAST_PID
wait_port "$P_ECHO" "$ECHO_PID"
sed -e "s|@LISTEN@|$P_SRV|; s|@CONNECT@|$P_ECHO|; s|@CERTS@|$CERTS|g; s|@NAME@|$NAME|g" "$BENCH/stunnel-server.conf.in" >"$OUT/conf/stunnel-server.conf"
sed -e "s|@LISTEN@|$P_CLI|; s|@CONNECT@|$P_SRV|; s|@CERTS@|$CERTS|g; s|@NAME@|$NAME|g" "$BENCH/stunnel-client.conf.in" >"$OUT/conf/stunnel-client.conf"

declare -A OK
for c in "${CANDS[@]}"; do
  f=$(form_of "$c")
  if [ "$f" = none ]; then OK[$c]=1; continue; fi
  if publish "$f"; then OK[$c]=1; else OK[$c]=0; fi
done

timed() { # timed LOG PORT CMD...: sets T_PID, T_MS
  local line
  line=$("$PY" "$BENCH/startup.py" listen "$2" "$1" 15 "$FD_LIMIT" -- "${@:3}" || true)
  T_PID=${line%% *}; T_MS=${line##* }
  [ -n "$T_PID" ] && PIDS+=("$T_PID")
}
RAW=$OUT/raw.tsv
printf 'candidate\trun\tserver_ms\tclient_ms\tserver_rss_kb\tclient_rss_kb\tcerts_init_ca_ms\twarm_ok\n' >"$RAW"
for run in $(seq "$RUNS"); do
  for c in "${CANDS[@]}"; do
    [ "${OK[$c]}" = 1 ] || continue
    dir=$OUT/pub/$(form_of "$c") env_args=(env)
    [[ "$c" == *-knobs ]] && read -r -a kv <<<"$KNOBS" && env_args+=("${kv[@]}")
    if [ "$c" = stunnel ]; then
      timed "$OUT/logs/$c-server.log" "$P_SRV" stunnel "$OUT/conf/stunnel-server.conf"; sp=$T_PID sms=$T_MS
      timed "$OUT/logs/$c-client.log" "$P_CLI" stunnel "$OUT/conf/stunnel-client.conf"; cp=$T_PID cms=$T_MS
    else
      timed "$OUT/logs/$c-server.log" "$P_SRV" "${env_args[@]}" "$dir/tunnel-server" --config "$BENCH/tunnel-server.json" \
        --listen "127.0.0.1:$P_SRV" --upstream "127.0.0.1:$P_ECHO" --cert "$CERTS/server.pem" --key "$CERTS/server.key" --ca "$CERTS/ca.pem"
      sp=$T_PID sms=$T_MS
      timed "$OUT/logs/$c-client.log" "$P_CLI" "${env_args[@]}" "$dir/tunnel-client" --config "$BENCH/tunnel-client.json" \
        --listen "127.0.0.1:$P_CLI" --server "127.0.0.1:$P_SRV" --server-name "$NAME" \
        --cert "$CERTS/client.pem" --key "$CERTS/client.key" --ca "$CERTS/ca.pem"
      cp=$T_PID cms=$T_MS
    fi
    warm=$("$PY" "$BENCH/startup.py" warm "$P_CLI" 20 || true)
    sleep "$SETTLE"
    srss=$(rss_kb "$sp"); crss=$(rss_kb "$cp")
    stop_pids "$cp" "$sp"
    cdir=$OUT/tmp-certs; rm -rf "$cdir"; mkdir -p "$cdir"
    if [ "$c" = stunnel ]; then
      certs=$("$PY" "$BENCH/startup.py" run 30 -- sh -c 'cd "$1" && openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out ca.key 2>/dev/null &&
        openssl req -x509 -new -key ca.key -sha256 -days 3650 -subj "/CN=Tunnel CA" -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign" -out ca.pem' sh "$cdir" || true)
    else
      certs=$("$PY" "$BENCH/startup.py" run 30 -- "${env_args[@]}" "$dir/tunnel-server" certs init-ca --dir "$cdir" || true)
    fi
    rm -rf "$cdir"
    printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$c" "$run" "$sms" "$cms" "$srss" "$crss" "$certs" "$warm" >>"$RAW"
    log "run $run $c: listening server $sms ms, client $cms ms; idle RSS server $srss kB, client $crss kB; certs init-ca $certs ms; warm $warm/20"
  done
done
stop_pid "$ECHO_PID"

# Sizes: what a host needs besides the OS (framework-dependent forms also need the shared frameworks).
fw_mb=$(du -sm "$(dirname "$(command -v dotnet)")"/../share/dotnet/shared 2>/dev/null | cut -f1 || true)
[ -n "$fw_mb" ] || fw_mb=$(du -smL "$(dotnet --list-runtimes | awk '/Microsoft.NETCore.App/ {gsub(/[\[\]]/,"",$3); print $3}' | tail -1)/.." | cut -f1)
"$PY" - "$RAW" "$OUT/pub" "$KNOBS" <<'PYEOF'
import csv, os, statistics, sys
raw, pub, knobs = sys.argv[1], sys.argv[2], sys.argv[3]
rows = list(csv.DictReader(open(raw), delimiter="\t"))
order = []
for r in rows:
    if r["candidate"] not in order:
        order.append(r["candidate"])
def size(form):
    d = os.path.join(pub, form)
    if not os.path.isdir(d):
        return None
    total = 0
    for base, _, files in os.walk(d):
        for f in files:
            if not f.endswith((".pdb", ".dbg", ".xml")):
                total += os.path.getsize(os.path.join(base, f))
    return total / 1e6
def cell(vals, scale=1.0):
    v = [float(x) / scale for x in vals if x not in ("null", "", None)]
    if not v:
        return "no number"
    return f"{statistics.median(v):.1f} ({min(v):.1f}-{max(v):.1f})" if len(v) > 1 else f"{v[0]:.1f}"
print(f"knobs = {knobs}")
print("| candidate | server exec→listening ms | client exec→listening ms | server idle RSS MiB | client idle RSS MiB | certs init-ca ms | both daemons on disk MB |")
print("|---|---|---|---|---|---|---|")
for c in order:
    rs = [r for r in rows if r["candidate"] == c]
    form = {"jit": "jit", "r2r": "r2r", "trimmed": "trimmed", "aot": "aot"}.get(c.split("-")[0])
    sz = size(form) if form else None
    print(f"| {c} | {cell([r['server_ms'] for r in rs])} | {cell([r['client_ms'] for r in rs])} | "
          f"{cell([r['server_rss_kb'] for r in rs], 1024)} | {cell([r['client_rss_kb'] for r in rs], 1024)} | "
          f"{cell([r['certs_init_ca_ms'] for r in rs])} | {'' if sz is None else f'{sz:.1f}'} |")
print(f"\nmedian (min-max) of {max(int(r['run']) for r in rows)} run(s); raw: {raw}")
PYEOF
echo "(framework-dependent forms also need the .NET + ASP.NET Core shared frameworks: ${fw_mb:-?} MB here; sizes leave out .pdb/.dbg/.xml)"
log "done: $OUT"
