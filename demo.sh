#!/usr/bin/env bash
# demo.sh: the whole Tunnel deployment on one machine, in one command.
#
#   curl -> inner Squid -> tunnel-client ==TLS 1.3 + mTLS==> tunnel-server -> outer Squid -> nginx (local HTTPS target)
#
# Installs what is missing (squid, curl, nginx-light, openssl), publishes the binaries (Release) into
# artifacts/publish, makes development certificates with certs/make-dev-certs.sh if certs/dev/ is missing, starts
# every hop on 127.0.0.1, sends one HTTPS request (CONNECT) and one plain-HTTP request through the chain, shows what
# each hop logged, and stops everything it started, unless --keep-running is given.
#
# Needs: Debian 12 (or similar), root, the .NET 10 SDK. Works without internet once the packages are installed.
# Runtime files (configs, logs, pid files) go to artifacts/demo/. Exit status 0 only if both requests succeeded.
#
# Ports (override with environment variables; the demo refuses to start if one is taken). They are named DEMO_*, not
# TUNNEL_*, because the daemons read TUNNEL_* variables as their own configuration and reject names they do not know.
# The defaults sit below Linux's ephemeral range (32768-60999), where any outgoing connection on the machine may hold
# a port for a while and make a later bind() fail.
#   DEMO_INNER_PORT   (23130) inner Squid, where users point their proxy setting
#   DEMO_CLIENT_PORT  (23129) tunnel-client, the inner Squid's cache_peer parent
#   DEMO_SERVER_PORT  (24443) tunnel-server (443 in production)
#   DEMO_OUTER_PORT   (23128) outer Squid, tunnel-server's upstream proxy
#   DEMO_HTTPS_PORT   (28443) nginx HTTPS target
#   DEMO_HTTP_PORT    (28080) nginx plain-HTTP target
#
# The Squid directives here mirror tests/Tunnel.EndToEnd/Support/SquidConfig.cs; keep the two in step.

set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
PUBLISH="$ROOT/artifacts/publish"
DEMO="$ROOT/artifacts/demo"
CERTS="$ROOT/certs/dev"
PIDS_FILE="$DEMO/pids"
TARGET_NAME="target.demo.test"
SERVER_NAME="tunnel.local"

INNER_PORT="${DEMO_INNER_PORT:-23130}"
CLIENT_PORT="${DEMO_CLIENT_PORT:-23129}"
SERVER_PORT="${DEMO_SERVER_PORT:-24443}"
OUTER_PORT="${DEMO_OUTER_PORT:-23128}"
HTTPS_PORT="${DEMO_HTTPS_PORT:-28443}"
HTTP_PORT="${DEMO_HTTP_PORT:-28080}"

KEEP_RUNNING=0
CHAIN_UP=0        # set once every hop is listening; --keep-running keeps only a complete chain
STARTED_PIDS=()   # in start order; stopped in reverse

# ---------------------------------------------------------------------------------------------------------- output

if [ -t 1 ]; then
  BOLD=$'\e[1m'; DIM=$'\e[2m'; GREEN=$'\e[32m'; RED=$'\e[31m'; RESET=$'\e[0m'
else
  BOLD=""; DIM=""; GREEN=""; RED=""; RESET=""
fi

STEP=0
step() { STEP=$((STEP + 1)); printf '\n%s== %d. %s%s\n' "$BOLD" "$STEP" "$*" "$RESET"; }
info() { printf '   %s\n' "$*"; }
explain() { printf '%s   > %s%s\n' "$DIM" "$*" "$RESET"; }
ok() { printf '   %sOK%s %s\n' "$GREEN" "$RESET" "$*"; }
fail() { printf '%sdemo.sh: %s%s\n' "$RED" "$*" "$RESET" >&2; }
die() { fail "$*"; exit 1; }
indent() { sed 's/^/     /'; }

usage() {
  cat <<EOF
Usage: ./demo.sh [--keep-running | --stop | --help]

  (no option)      run the demo, then stop everything it started
  --keep-running   leave the chain running afterwards (stop it later with ./demo.sh --stop)
  --stop           stop a chain left running by --keep-running
EOF
}

# ------------------------------------------------------------------------------------------------------- processes

# Stops the given PIDs (newest first): SIGTERM, up to 10 s to exit, then SIGKILL.
stop_pids() {
  local pid waited
  for pid in "$@"; do
    kill -TERM "$pid" 2>/dev/null || continue
    for waited in $(seq 1 100); do
      kill -0 "$pid" 2>/dev/null || break
      sleep 0.1
    done
    kill -KILL "$pid" 2>/dev/null || true
  done
}

cleanup() {
  local status=$?
  if { [ "$KEEP_RUNNING" = 1 ] && [ "$CHAIN_UP" = 1 ]; } || [ ${#STARTED_PIDS[@]} -eq 0 ]; then
    return "$status"
  fi
  local reversed=() i
  for ((i = ${#STARTED_PIDS[@]} - 1; i >= 0; i--)); do reversed+=("${STARTED_PIDS[i]}"); done
  printf '\n%s== Stopping what the demo started (pids %s)%s\n' "$BOLD" "${reversed[*]}" "$RESET"
  stop_pids "${reversed[@]}"
  rm -f "$PIDS_FILE"
  return "$status"
}

# start NAME LOGFILE COMMAND...: runs COMMAND in the background with its output in LOGFILE and records its PID.
start() {
  local name=$1 log=$2
  shift 2
  "$@" >"$log" 2>&1 &
  local pid=$!
  STARTED_PIDS+=("$pid")
  echo "$pid $name" >>"$PIDS_FILE"
  info "$name started (pid $pid), log: ${log#"$ROOT"/}"
}

port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

# wait_for_port NAME PORT PID LOG: until something accepts on PORT, failing (with the end of LOG) if PID died or 30 s
# passed.
wait_for_port() {
  local name=$1 port=$2 pid=$3 log=$4 i
  for i in $(seq 1 300); do
    if ! kill -0 "$pid" 2>/dev/null; then
      tail -20 "$log" | indent >&2 || true
      die "$name (pid $pid) exited during start-up (end of $log above)"
    fi
    port_open "$port" && return 0
    sleep 0.1
  done
  die "$name did not listen on 127.0.0.1:$port within 30 s; see $log"
}

# wait_for_log NAME FILE TEXT PID: until FILE contains TEXT (the tunnel daemons announce their listener in their log,
# and a bare TCP probe would show up there as a failed handshake).
wait_for_log() {
  local name=$1 file=$2 text=$3 pid=$4 i
  for i in $(seq 1 300); do
    if ! kill -0 "$pid" 2>/dev/null; then
      tail -20 "$file" | indent >&2 || true
      die "$name (pid $pid) exited during start-up (end of $file above)"
    fi
    grep -qF "$text" "$file" 2>/dev/null && return 0
    sleep 0.1
  done
  die "$name did not log '$text' within 30 s; see $file"
}

# -------------------------------------------------------------------------------------------------------- arguments

case "${1:-}" in
  "") ;;
  --keep-running) KEEP_RUNNING=1 ;;
  --stop)
    [ -f "$PIDS_FILE" ] || die "nothing to stop: no $PIDS_FILE"
    mapfile -t lines < <(tac "$PIDS_FILE")
    for line in "${lines[@]}"; do
      info "stopping ${line#* } (pid ${line%% *})"
      stop_pids "${line%% *}"
    done
    rm -f "$PIDS_FILE"
    exit 0 ;;
  -h | --help) usage; exit 0 ;;
  *) usage >&2; exit 2 ;;
esac

# ------------------------------------------------------------------------------------------------------ preflight

step "Checking the machine"
[ "$(id -u)" = 0 ] || die "run as root: it installs packages, and Squid must start as root to drop to the 'proxy' user"
command -v dotnet >/dev/null || die "the .NET 10 SDK is not installed (dotnet is not on PATH)"
info "dotnet $(dotnet --version)"

missing=()
command -v squid >/dev/null || [ -x /usr/sbin/squid ] || missing+=(squid)
command -v curl >/dev/null || missing+=(curl)
command -v nginx >/dev/null || [ -x /usr/sbin/nginx ] || missing+=(nginx-light)
command -v openssl >/dev/null || missing+=(openssl)
if [ ${#missing[@]} -gt 0 ]; then
  info "installing: ${missing[*]}"
  apt-get update
  DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "${missing[@]}"
fi
export PATH="$PATH:/usr/sbin:/sbin"
info "$(squid -v | head -1), $(nginx -v 2>&1), $(curl --version | head -1 | cut -d' ' -f1-2), $(openssl version | cut -d' ' -f1-2)"

for entry in "inner Squid:$INNER_PORT:DEMO_INNER_PORT" "tunnel-client:$CLIENT_PORT:DEMO_CLIENT_PORT" \
  "tunnel-server:$SERVER_PORT:DEMO_SERVER_PORT" "outer Squid:$OUTER_PORT:DEMO_OUTER_PORT" \
  "nginx HTTPS:$HTTPS_PORT:DEMO_HTTPS_PORT" "nginx HTTP:$HTTP_PORT:DEMO_HTTP_PORT"; do
  IFS=: read -r name port variable <<<"$entry"
  if ! [[ "$port" =~ ^[0-9]+$ ]] || [ "$port" -lt 1 ] || [ "$port" -gt 65535 ]; then
    die "$variable='$port' is not a port number (1-65535)"
  fi
  if port_open "$port"; then
    die "port 127.0.0.1:$port (for $name) is already in use; free it, set $variable to another port, or run ./demo.sh --stop if a previous demo is still running"
  fi
done
read -r ephemeral_low ephemeral_high </proc/sys/net/ipv4/ip_local_port_range 2>/dev/null || { ephemeral_low=32768; ephemeral_high=60999; }
for port in "$INNER_PORT" "$CLIENT_PORT" "$SERVER_PORT" "$OUTER_PORT" "$HTTPS_PORT" "$HTTP_PORT"; do
  if [ "$port" -ge "$ephemeral_low" ] && [ "$port" -le "$ephemeral_high" ]; then
    info "note: port $port is in the ephemeral range ($ephemeral_low-$ephemeral_high); if a start fails with 'address already in use', pick a lower one"
  fi
done
ok "all six ports are free ($INNER_PORT, $CLIENT_PORT, $SERVER_PORT, $OUTER_PORT, $HTTPS_PORT, $HTTP_PORT)"

# ---------------------------------------------------------------------------------------------------------- build

step "Publishing tunnel-server and tunnel-client (Release) into ${PUBLISH#"$ROOT"/}"
for project in TunnelServer TunnelClient; do
  dotnet publish "$ROOT/src/$project/$project.csproj" -c Release -o "$PUBLISH" --nologo -v quiet 2>&1 | indent
done
ok "$("$PUBLISH/tunnel-server" version | head -1), $("$PUBLISH/tunnel-client" version | head -1)"

step "Development certificates in ${CERTS#"$ROOT"/}"
cert_files=(ca-bundle.pem issued/tunnel.local.pem private/tunnel.local.key issued/dev-client.pem private/dev-client.key)
have_all=1
for file in "${cert_files[@]}"; do [ -f "$CERTS/$file" ] || have_all=0; done
if [ "$have_all" = 0 ]; then
  [ -f "$ROOT/certs/make-dev-certs.sh" ] || die "certs/dev/ is incomplete and certs/make-dev-certs.sh is missing (it comes with the certs work); it must create: ${cert_files[*]}"
  info "making them with certs/make-dev-certs.sh"
  bash "$ROOT/certs/make-dev-certs.sh" "$PUBLISH/tunnel-server" 2>&1 | indent
  for file in "${cert_files[@]}"; do [ -f "$CERTS/$file" ] || die "certs/make-dev-certs.sh did not create certs/dev/$file"; done
fi
ok "private CA, server certificate for $SERVER_NAME, client certificate dev-client"

# -------------------------------------------------------------------------------------------------------- runtime

rm -rf "$DEMO"
mkdir -p "$DEMO"
: >"$PIDS_FILE"
trap cleanup EXIT
trap 'exit 130' INT TERM

# Squid drops to 'proxy' and then writes its logs; if the checkout is not reachable for that user (e.g. under /root),
# its folders live in /tmp and artifacts/demo links to them.
squid_dir() {
  local name=$1 dir="$DEMO/$1"
  mkdir -p "$dir"
  chmod 0777 "$dir"
  if ! runuser -u proxy -- test -w "$dir" 2>/dev/null; then
    rm -rf "$dir"
    local elsewhere
    elsewhere="$(mktemp -d "/tmp/tunnel-demo-$name.XXXXXX")"
    chmod 0777 "$elsewhere"
    ln -s "$elsewhere" "$dir"
    info "the 'proxy' user cannot write under ${DEMO#"$ROOT"/}; $name Squid's files are in $elsewhere (linked as ${dir#"$ROOT"/})" >&2
    dir="$elsewhere"
  fi
  echo "$dir"
}

# squid_conf DIR PORT NAME: the directives every demo Squid has (foreground, files in DIR, no cache).
squid_conf() {
  local dir=$1 port=$2 name=$3
  cat <<EOF
# Generated by demo.sh ($name Squid).
http_port 127.0.0.1:$port
visible_hostname $name.demo.test
pid_filename $dir/squid.pid
cache_log $dir/cache.log
access_log stdio:$dir/access.log squid
coredump_dir $dir
netdb_filename none
cache deny all
cache_mem 8 MB
shutdown_lifetime 1 seconds
cache_effective_user proxy
pinger_enable off
EOF
}

step "Starting the HTTPS target: nginx as https://$TARGET_NAME:$HTTPS_PORT/ (and http:// on $HTTP_PORT)"
NGINX_DIR="$DEMO/nginx"
mkdir -p "$NGINX_DIR/www" "$NGINX_DIR/tmp"
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 \
  -subj "/CN=$TARGET_NAME" -addext "subjectAltName=DNS:$TARGET_NAME" \
  -keyout "$NGINX_DIR/target.key" -out "$NGINX_DIR/target.pem" 2>/dev/null
cat >"$NGINX_DIR/www/index.html" <<EOF
Hello from $TARGET_NAME: this page crossed both Squids and the Tunnel.
EOF
cat >"$NGINX_DIR/nginx.conf" <<EOF
# Generated by demo.sh: one foreground nginx, everything under $NGINX_DIR.
master_process off;
daemon off;
worker_processes 1;
pid $NGINX_DIR/nginx.pid;
error_log $NGINX_DIR/error.log notice;
events { worker_connections 256; }
http {
  access_log $NGINX_DIR/access.log;
  client_body_temp_path $NGINX_DIR/tmp/body;
  proxy_temp_path $NGINX_DIR/tmp/proxy;
  fastcgi_temp_path $NGINX_DIR/tmp/fastcgi;
  uwsgi_temp_path $NGINX_DIR/tmp/uwsgi;
  scgi_temp_path $NGINX_DIR/tmp/scgi;
  default_type text/plain;
  server {
    listen 127.0.0.1:$HTTPS_PORT ssl;
    listen 127.0.0.1:$HTTP_PORT;
    server_name $TARGET_NAME;
    ssl_protocols TLSv1.2 TLSv1.3;
    ssl_certificate $NGINX_DIR/target.pem;
    ssl_certificate_key $NGINX_DIR/target.key;
    root $NGINX_DIR/www;
  }
}
EOF
start nginx "$NGINX_DIR/stderr.log" nginx -p "$NGINX_DIR" -c "$NGINX_DIR/nginx.conf" -e "$NGINX_DIR/error.log"
wait_for_port nginx "$HTTPS_PORT" "${STARTED_PIDS[-1]}" "$NGINX_DIR/error.log"
wait_for_port nginx "$HTTP_PORT" "${STARTED_PIDS[-1]}" "$NGINX_DIR/error.log"
explain "Its certificate is self-signed for $TARGET_NAME; curl trusts it with --cacert. No DNS: the outer Squid maps the name."

step "Starting the outer Squid on 127.0.0.1:$OUTER_PORT (the upstream proxy in the cloud)"
OUTER_DIR="$(squid_dir outer)"
echo "127.0.0.1 $TARGET_NAME" >"$OUTER_DIR/hosts"
{
  squid_conf "$OUTER_DIR" "$OUTER_PORT" outer
  echo "hosts_file $OUTER_DIR/hosts"
  echo "http_access allow localhost"
  echo "http_access deny all"
} >"$OUTER_DIR/squid.conf"
start "outer squid" "$OUTER_DIR/stderr.log" squid -N -d 1 -f "$OUTER_DIR/squid.conf"
wait_for_port "outer squid" "$OUTER_PORT" "${STARTED_PIDS[-1]}" "$OUTER_DIR/stderr.log"

step "Starting tunnel-server on 127.0.0.1:$SERVER_PORT (cloud side: TLS, client certificates, forwards to the outer Squid)"
SERVER_LOG="$DEMO/tunnel-server.log"
start tunnel-server "$SERVER_LOG" "$PUBLISH/tunnel-server" \
  --listen "127.0.0.1:$SERVER_PORT" --upstream "127.0.0.1:$OUTER_PORT" \
  --cert "$CERTS/issued/tunnel.local.pem" --key "$CERTS/private/tunnel.local.key" --ca "$CERTS/ca-bundle.pem" \
  --shutdown-timeout 5s
wait_for_log tunnel-server "$SERVER_LOG" "listening on 127.0.0.1:$SERVER_PORT" "${STARTED_PIDS[-1]}"
indent <"$SERVER_LOG"

step "Starting tunnel-client on 127.0.0.1:$CLIENT_PORT (customer side: a plain-TCP parent for Squid, TLS to the server)"
CLIENT_LOG="$DEMO/tunnel-client.log"
start tunnel-client "$CLIENT_LOG" "$PUBLISH/tunnel-client" \
  --listen "127.0.0.1:$CLIENT_PORT" --server "127.0.0.1:$SERVER_PORT" --server-name "$SERVER_NAME" \
  --cert "$CERTS/issued/dev-client.pem" --key "$CERTS/private/dev-client.key" --ca "$CERTS/ca-bundle.pem" \
  --shutdown-timeout 5s
wait_for_log tunnel-client "$CLIENT_LOG" "listening on 127.0.0.1:$CLIENT_PORT" "${STARTED_PIDS[-1]}"
indent <"$CLIENT_LOG"
explain "Started before the inner Squid on purpose: a Squid that finds its parent closed at start-up marks it dead."

step "Starting the inner Squid on 127.0.0.1:$INNER_PORT (customer LAN proxy, tunnel-client as its only parent)"
INNER_DIR="$(squid_dir inner)"
{
  squid_conf "$INNER_DIR" "$INNER_PORT" inner
  echo "cache_peer 127.0.0.1 parent $CLIENT_PORT 0 no-query no-digest default name=tunnel"
  echo "never_direct allow all"
  echo "dns_nameservers 127.0.0.1"
  echo "http_access allow localhost"
  echo "http_access deny all"
} >"$INNER_DIR/squid.conf"
start "inner squid" "$INNER_DIR/stderr.log" squid -N -d 1 -f "$INNER_DIR/squid.conf"
wait_for_port "inner squid" "$INNER_PORT" "${STARTED_PIDS[-1]}" "$INNER_DIR/stderr.log"
CHAIN_UP=1
grep -E '^(cache_peer|never_direct|dns_nameservers)' "$INNER_DIR/squid.conf" | indent

# ------------------------------------------------------------------------------------------------------- requests

# show_hops SERVER_LINES_BEFORE ACCESS_LOG_PATTERN SERVER_EVENT: what the outer Squid and tunnel-server logged for the
# request just made. Both log when a connection ends or a transaction completes, so each is polled for (up to 5 s).
show_hops() {
  local before=$1 pattern=$2 event=$3 line="" lines="" i
  for i in $(seq 1 50); do
    line="$(grep -F -- "$pattern" "$OUTER_DIR/access.log" 2>/dev/null | tail -1 || true)"
    lines="$(tail -n +"$((before + 1))" "$SERVER_LOG" | grep -E " conn [0-9]+ (open|closed)" || true)"
    [ -n "$line" ] && grep -qF " $event:" <<<"$lines" && break
    sleep 0.1
  done
  echo "   outer Squid access.log (what the upstream proxy saw):"
  echo "${line:-(no matching line)}" | indent
  echo "   tunnel-server log (the connection, named by the client certificate):"
  echo "${lines:-(no connection lines)}" | indent
}

https_ok=0
http_ok=0

step "HTTPS through the chain: curl -v --proxy http://127.0.0.1:$INNER_PORT https://$TARGET_NAME:$HTTPS_PORT/"
server_lines=$(wc -l <"$SERVER_LOG")
if curl -v --max-time 30 --proxy "http://127.0.0.1:$INNER_PORT" --cacert "$NGINX_DIR/target.pem" \
  "https://$TARGET_NAME:$HTTPS_PORT/" -o "$DEMO/https-body.txt" 2>"$DEMO/https-curl.txt"; then
  https_ok=1
fi
grep -E '^(\* (Establish|CONNECT|SSL connection|Server certificate)|\*  (subject|issuer):|[<>] (CONNECT|HTTP/|GET|Host))' \
  "$DEMO/https-curl.txt" | indent || true
echo "   body: $(cat "$DEMO/https-body.txt" 2>/dev/null)"
show_hops "$server_lines" "CONNECT $TARGET_NAME:$HTTPS_PORT" closed
if [ "$https_ok" = 1 ]; then ok "HTTPS request succeeded"; else fail "HTTPS request failed; full curl output: ${DEMO#"$ROOT"/}/https-curl.txt"; fi
echo "   What happened, hop by hop:"
explain "1. curl -> inner Squid (:$INNER_PORT): 'CONNECT $TARGET_NAME:$HTTPS_PORT'. never_direct sends it to the parent."
explain "2. inner Squid -> tunnel-client (:$CLIENT_PORT): the same CONNECT, plain TCP; tunnel-client is a cache_peer parent."
explain "3. tunnel-client => tunnel-server (:$SERVER_PORT): a new TLS 1.3 connection. The client checked the server's"
explain "   certificate ($SERVER_NAME) against the private CA and presented dev-client's. A firewall on this hop sees one"
explain "   TLS connection to 127.0.0.1:$SERVER_PORT: not the CONNECT line, not $TARGET_NAME."
explain "4. tunnel-server -> outer Squid (:$OUTER_PORT): only after verifying dev-client's certificate (the [CN=...] in its"
explain "   log) does the server dial its one configured upstream, then it relays the bytes unchanged."
explain "5. outer Squid -> nginx (:$HTTPS_PORT): it resolves $TARGET_NAME from its hosts file, connects, and answers"
explain "   '200 Connection established', which travels back through every hop to curl."
explain "6. curl <=> nginx: curl's own TLS session (certificate for $TARGET_NAME) runs inside the tunnel's TLS."

step "Plain HTTP through the chain: curl -v --proxy http://127.0.0.1:$INNER_PORT http://$TARGET_NAME:$HTTP_PORT/"
server_lines=$(wc -l <"$SERVER_LOG")
if curl -v --max-time 30 --proxy "http://127.0.0.1:$INNER_PORT" \
  "http://$TARGET_NAME:$HTTP_PORT/" -o "$DEMO/http-body.txt" 2>"$DEMO/http-curl.txt"; then
  http_ok=1
fi
grep -E '^[<>] (GET|HTTP/|Via|X-Cache:)' "$DEMO/http-curl.txt" | indent || true
echo "   body: $(cat "$DEMO/http-body.txt" 2>/dev/null)"
show_hops "$server_lines" "GET http://$TARGET_NAME:$HTTP_PORT/" open
if [ "$http_ok" = 1 ]; then ok "plain HTTP request succeeded"; else fail "plain HTTP request failed; full curl output: ${DEMO#"$ROOT"/}/http-curl.txt"; fi
echo "   What happened, hop by hop:"
explain "1. curl -> inner Squid: 'GET http://$TARGET_NAME:$HTTP_PORT/' (absolute URI, as browsers send to a proxy)."
explain "2. inner Squid -> tunnel-client -> tunnel-server -> outer Squid: the request, unchanged, over a new tunnel"
explain "   connection (TLS between the tunnel ends, client certificate checked as before)."
explain "3. outer Squid -> nginx: a plain GET; the answer returns the same way. Via lists both Squids; the tunnel ends"
explain "   add nothing to the HTTP they carry."
explain "4. Squid keeps the parent connection open for its next request, so tunnel-server logged 'open' and will log"
explain "   'closed' (with byte counts) only when Squid lets the connection go."

# ----------------------------------------------------------------------------------------------------------- end

step "Result"
if [ "$https_ok" = 1 ] && [ "$http_ok" = 1 ]; then
  ok "both requests went through curl -> inner Squid -> tunnel-client -> tunnel-server -> outer Squid -> nginx"
  status=0
else
  fail "at least one request failed (logs in ${DEMO#"$ROOT"/})"
  status=1
fi

if [ "$KEEP_RUNNING" = 1 ]; then
  info "Still running (pids in ${PIDS_FILE#"$ROOT"/}). Try:"
  info "  curl --proxy http://127.0.0.1:$INNER_PORT --cacert $NGINX_DIR/target.pem https://$TARGET_NAME:$HTTPS_PORT/"
  info "  tail -f ${SERVER_LOG#"$ROOT"/}"
  info "Stop it with: ./demo.sh --stop"
fi
exit "$status"
