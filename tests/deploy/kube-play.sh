#!/usr/bin/env bash
# The deployment, run for real with podman (called by test.sh; run it alone as root: tests/deploy/kube-play.sh):
#   1. scripts/package.sh builds the .deb, the tarball and the image (base: deploy/container/make-base.sh, the minimal
#      runtime base made from Debian bookworm's packages with mmdebstrap, cached in artifacts/deploy/, since no
#      registry is reachable); tests/deploy/package.sh installs the .deb.
#   2. deploy/kubernetes/{cloud,site} rendered with 'kubectl kustomize' through a test overlay that substitutes only
#      what is site-specific, and is checked to differ from the shipped render in nothing else:
#        nameSuffix -ID (parallel runs), images (localhost/tunnel:VERSION and a local Squid image),
#        the 'tls' Secret volume -> a hostPath laid out exactly as the kubelet lays out a Secret volume,
#        hostAliases: tunnel.example.com -> the address of a stand-in for the cloud Service (helpers.py
#          service-proxy, 443 -> the cloud pod's 8443; in a cluster, DNS and kube-proxy do this),
#        hostIP/hostPort: podman 4.3 publishes each containerPort on the host; pinned to free loopback ports,
#        replicas: 1 (podman makes one pod per replica, and two would publish the same host ports).
#      Then 'podman kube play' of that render: the cloud pod (tunnel-server + outer Squid), the site pod (Squid +
#      tunnel-client sidecar). podman 4.3 ignores the Namespace, Service, PodDisruptionBudget and HPA documents.
#   3. Targets in containers of their own: nginx (HTTPS, a 32 MiB file) and a duplex server (helpers.py).
# Checks: probes; curl through the site Squid to nginx (SHA-256); a transfer both ways spanning a kubelet-style
# Secret update that rotates the server certificate (new handshakes get the new one); bad input (missing key,
# wrong mount path, key others can read, read-only file system) exits 3 with one line naming the fix; the cloud pod
# removed -> 503 with the reason and the site's /readyz says not ready. Prints 'measure:' lines (RSS, CPU).
# Cleans up only what it made: its containers and pods by name, its folder.
set -euo pipefail
repo=$(cd "$(dirname "$0")/../.." && pwd)
cd "$repo"
export CONTAINERS_CONF="$repo/tests/deploy/containers.conf"
id=tnl$(od -An -N3 -tx1 /dev/urandom | tr -d ' \n')
work=$(mktemp -d "/tmp/$id.XXXXXX")
version=$(sed -n 's:.*<Version>\(.*\)</Version>.*:\1:p' Directory.Build.props)
tunnel_image=localhost/tunnel:$version
tools_image=localhost/tunnel-test-tools:bookworm
base_image=localhost/tunnel-base:bookworm
containers=() pods=()
failures=0

log() { printf '%s kube-play: %s\n' "$(date +%H:%M:%S)" "$*"; }
fail() { log "FAIL: $*"; failures=$((failures + 1)); }
cleanup() {
  local rc=$?
  # The duplex client, if a failure left it running (it started it; by PID).
  [ -n "${duplex_pid:-}" ] && kill "$duplex_pid" 2>/dev/null || true
  if [ "$rc" -ne 0 ] || [ "$failures" -ne 0 ]; then
    for p in "${pods[@]}"; do
      for c in $(podman pod inspect "$p" --format '{{range .Containers}}{{.Name}} {{end}}' 2>/dev/null); do
        echo "--- logs of $c (last 30 lines)"; podman logs --tail 30 "$c" 2>&1 || true
      done
    done
  fi
  for c in "${containers[@]}"; do podman rm -f -t 0 "$c" >/dev/null 2>&1 || true; done
  # Every pod named after this run's id (kube play names a Deployment's pods NAME-pod-0, -1...).
  for p in $(podman pod ps --format '{{.Name}}' | grep -F -- "$id" || true); do podman pod rm -f -t 0 "$p" >/dev/null 2>&1 || true; done
  # kube play keeps each ConfigMap as a named volume (NAME-ID-HASH).
  for v in $(podman volume ls --format '{{.Name}}' | grep -F -- "-$id-" || true); do podman volume rm -f "$v" >/dev/null 2>&1 || true; done
  [ -n "${KEEP:-}" ] || rm -rf "$work"
}
trap cleanup EXIT

# until SECONDS DESCRIPTION COMMAND...: polls COMMAND (every 0.2 s) until it succeeds or the deadline passes.
until_ok() {
  local limit=$1 what=$2; shift 2
  local deadline=$((SECONDS + limit))
  until "$@" >/dev/null 2>&1; do
    if [ $SECONDS -ge $deadline ]; then log "timed out after ${limit}s waiting for: $what"; return 1; fi
    sleep 0.2
  done
}

# ---------------------------------------------------------------------------------------------------------------
# 1. Images: Debian bookworm bases from mmdebstrap (cached tarballs), the tunnel image from scripts/package.sh.
ensure_base() { # IMAGE TARBALL PACKAGES
  local image=$1 tarball=$2 packages=$3
  if [ ! -f "$tarball" ]; then
    log "making $tarball with mmdebstrap ($packages)"
    mkdir -p "$(dirname "$tarball")"
    timeout 900 mmdebstrap --variant=minbase --include="$packages" bookworm "$tarball.tmp.tar" </dev/null >"$work/mmdebstrap.log" 2>&1 \
      || { cat "$work/mmdebstrap.log"; exit 1; }
    mv "$tarball.tmp.tar" "$tarball"
    podman rmi -f "$image" >/dev/null 2>&1 || true
  fi
  if ! podman image exists "$image"; then
    podman import --change 'ENV=PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' "$tarball" "$image" >/dev/null
  fi
}
# The tunnel image's base: what deploy/container/make-base.sh makes (glibc, OpenSSL, the CA bundle; no shell).
if [ ! -f artifacts/deploy/tunnel-base-bookworm.tar ]; then
  log "making artifacts/deploy/tunnel-base-bookworm.tar (deploy/container/make-base.sh)"
  podman rmi -f "$base_image" >/dev/null 2>&1 || true
  deploy/container/make-base.sh --out artifacts/deploy/tunnel-base-bookworm.tar --tag "$base_image" | sed 's/^/  /'
elif ! podman image exists "$base_image"; then
  podman import --change 'ENV=PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
    artifacts/deploy/tunnel-base-bookworm.tar "$base_image" >/dev/null 2>&1
fi
ensure_base "$tools_image" artifacts/deploy/tools-bookworm.tar ca-certificates,libssl3,squid,nginx-light,curl,openssl,python3-minimal
if [ -n "${TUNNEL_DEPLOY_REUSE_IMAGE:-}" ] && podman image exists "$tunnel_image"; then
  log "reusing $tunnel_image and artifacts/package (TUNNEL_DEPLOY_REUSE_IMAGE is set)"
else
  log "building the package, tarball and image (scripts/package.sh)"
  timeout 1200 scripts/package.sh artifacts/dist --image --base "$base_image" | sed 's/^/  /'
fi
cli="$repo/artifacts/package/publish/tunnel-server"
# The image holds the two daemons on that base and nothing to run besides them: no shell, no package manager.
image_bytes=$(podman image inspect --format '{{.Size}}' "$tunnel_image")
log "measure: image $tunnel_image $((image_bytes / 1000000)) MB, base $(($(podman image inspect --format '{{.Size}}' "$base_image") / 1000000)) MB"
[ "$image_bytes" -le 60000000 ] || fail "the image is $image_bytes bytes, over the 60 MB this base and the two daemons take (deploy/container/README.md)"
podman run --rm --entrypoint tunnel-client "$tunnel_image" version >/dev/null 2>&1 || fail "tunnel-client version does not run in the image"
containers+=("$id-files")
podman create --name "$id-files" "$tunnel_image" >/dev/null
image_files=$(podman export "$id-files" | tar -t)
podman rm -f "$id-files" >/dev/null
for tool in bin/sh bin/bash bin/dash usr/bin/apt-get usr/bin/dpkg; do
  if grep -Eq "^(\./)?(usr/)?$tool\$" <<<"$image_files"; then fail "the image holds $tool"; fi
done
grep -Eq '^(\./)?opt/tunnel/tunnel-server$' <<<"$image_files" || fail "the image's file list has no opt/tunnel/tunnel-server (the check above would see nothing)"

# ---------------------------------------------------------------------------------------------------------------
# 2. Certificates, with the certs CLI as shipped; Secret manifests from export-k8s-secret; kubelet-style volumes.
pki="$work/pki"
certs() { "$cli" certs "$1" --dir "$pki" "${@:2}"; }
certs init-ca >/dev/null
certs issue server tunnel.example.com >/dev/null
certs issue client site-a >/dev/null
certs export-k8s-secret tunnel.example.com --secret-name tunnel-server-tls --out "$work/server-secret.yaml" >/dev/null
certs export-k8s-secret site-a --secret-name tunnel-client-tls --out "$work/client-secret.yaml" >/dev/null
python3 tests/deploy/helpers.py secret-volume "$work/server-secret.yaml" "$work/secrets/server" --gid 10001
python3 tests/deploy/helpers.py secret-volume "$work/client-secret.yaml" "$work/secrets/client" --gid 10001
serial_of() { openssl x509 -noout -serial -in "$1" | cut -d= -f2; }
first_serial=$(serial_of "$work/secrets/server/tls.crt")

# ---------------------------------------------------------------------------------------------------------------
# 3. Targets: nginx over HTTPS and the duplex server, each in its own container on podman's network.
mkdir -p "$work/web" "$work/echo" "$work/svc"
head -c $((32 * 1024 * 1024)) /dev/urandom >"$work/web/big.bin"
echo "target" >"$work/web/index.html"
cp tests/deploy/helpers.py "$work/echo/"; cp tests/deploy/helpers.py "$work/svc/"
# On the network kube play puts pods on (podman makes it on first use; so does this, if missing).
podman network exists podman-default-kube-network || podman network create podman-default-kube-network >/dev/null
ctr_ip() { podman inspect -f '{{range .NetworkSettings.Networks}}{{.IPAddress}}{{end}}' "$1"; }
for c in web echo svc; do
  containers+=("$id-$c")
  podman run -d --name "$id-$c" --network podman-default-kube-network -v "$work/$c:/w:ro" "$tools_image" sleep 3600 >/dev/null
done
web_ip=$(ctr_ip "$id-web")
echo_ip=$(ctr_ip "$id-echo")
svc_ip=$(ctr_ip "$id-svc")
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 -subj "/CN=target" \
  -addext "subjectAltName=IP:$web_ip" -keyout "$work/web/key.pem" -out "$work/web/cert.pem" 2>/dev/null
chmod 644 "$work/web/key.pem"
cat >"$work/web/nginx.conf" <<NGINX
daemon off; error_log stderr; pid /tmp/nginx.pid;
events {}
http { access_log off; client_body_temp_path /tmp; proxy_temp_path /tmp; fastcgi_temp_path /tmp; uwsgi_temp_path /tmp; scgi_temp_path /tmp;
  server { listen 443 ssl; ssl_certificate /w/cert.pem; ssl_certificate_key /w/key.pem; root /w; } }
NGINX
podman exec -d "$id-web" nginx -c /w/nginx.conf >/dev/null
podman exec -d "$id-echo" python3 /w/helpers.py duplex-server 443 >/dev/null
until_ok 30 "nginx on $web_ip:443" curl -sf --cacert "$work/web/cert.pem" -o /dev/null "https://$web_ip/big.bin"

# ---------------------------------------------------------------------------------------------------------------
# 4. The manifests: render, check, play.
overlay() { # NAME BASE-DIR DEPLOYMENT JSON6902-PATCH
  local dir="$work/overlay-$1"
  mkdir -p "$dir"
  printf '%s\n' "$4" >"$dir/deployment-patch.yaml"
  # Old spellings (bases, patchesJson6902 with a path) so that kubectl 1.20's kustomize v2.0.3 renders it too.
  cat >"$dir/kustomization.yaml" <<KUST
apiVersion: kustomize.config.k8s.io/v1beta1
kind: Kustomization
bases:
  - $(realpath --relative-to="$dir" "$2")
nameSuffix: -$id
images:
  - name: registry.example.com/tunnel
    newName: localhost/tunnel
    newTag: "$version"
  - name: docker.io/ubuntu/squid
    newName: localhost/tunnel-test-tools
    newTag: bookworm
patchesJson6902:
  - target:
      group: apps
      version: v1
      kind: Deployment
      name: $3
    path: deployment-patch.yaml
KUST
  kubectl kustomize "$2" >"$work/$1-shipped.yaml" 2>"$work/$1-kustomize.err" || { cat "$work/$1-kustomize.err"; exit 1; }
  kubectl kustomize "$dir" >"$work/$1-played.yaml" 2>"$work/$1-kustomize.err" || { cat "$work/$1-kustomize.err"; exit 1; }
  python3 tests/deploy/helpers.py compare-render "$work/$1-shipped.yaml" "$work/$1-played.yaml" "$id" | sed "s/^/  $1 /" || fail "$1: render check"
}
tls_patch() { # HOSTDIR
  printf '%s\n' "- op: replace" "  path: /spec/template/spec/volumes/2" \
    "  value: {name: tls, hostPath: {path: \"$1\", type: Directory}}"
}
# podman 4.3 publishes every containerPort on the host's port of the same number: the overlay pins each to a free
# loopback port instead (hostIP 127.0.0.1, hostPort from the kernel), so nothing clashes with what else runs here.
# The tests use the pods' own addresses.
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
port_patch() { # CONTAINER-INDEX PORT-INDEX
  printf '%s\n' "- op: add" "  path: /spec/template/spec/containers/$1/ports/$2/hostIP" "  value: 127.0.0.1" \
    "- op: add" "  path: /spec/template/spec/containers/$1/ports/$2/hostPort" "  value: $(free_port)"
}
pod_ip() { podman inspect -f '{{range .NetworkSettings.Networks}}{{.IPAddress}}{{end}}' "$(podman pod inspect "$1" -f '{{.InfraContainerID}}')"; }

overlay cloud deploy/kubernetes/cloud tunnel-server "$(tls_patch "$work/secrets/server"; port_patch 1 0; port_patch 1 1
  printf '%s\n' "- op: replace" "  path: /spec/replicas" "  value: 1")"
cloud_pod="tunnel-server-$id-pod-0"
pods+=("$cloud_pod")
podman kube play "$work/cloud-played.yaml" >"$work/cloud-play.log" 2>&1 || { cat "$work/cloud-play.log"; fail "kube play cloud"; exit 1; }
podman pod exists "$cloud_pod" || { podman pod ps; fail "no pod $cloud_pod"; exit 1; }
cloud_ip=$(pod_ip "$cloud_pod")
log "cloud pod $cloud_pod at $cloud_ip; the Service's stand-in at $svc_ip:443"
podman exec -d "$id-svc" python3 /w/helpers.py service-proxy 443 "$cloud_ip" 8443 /tmp/service-proxy.pid >/dev/null

overlay site deploy/kubernetes/site site-squid "$(tls_patch "$work/secrets/client"; port_patch 0 0; port_patch 1 0)
- op: add
  path: /spec/template/spec/hostAliases
  value: [{ip: \"$svc_ip\", hostnames: [tunnel.example.com]}]"
site_pod="site-squid-$id-pod-0"
pods+=("$site_pod")
podman kube play "$work/site-played.yaml" >"$work/site-play.log" 2>&1 || { cat "$work/site-play.log"; fail "kube play site"; exit 1; }
site_ip=$(pod_ip "$site_pod")
log "site pod $site_pod at $site_ip"

# ---------------------------------------------------------------------------------------------------------------
# 5. Probes as documented: /healthz 200 "ok"; /readyz 200 with "ready" once listening with a backend that answered.
# (grep -q in a pipeline would stop reading early and, with pipefail, fail the pipeline: compare captured output.)
ready() { [[ "$(curl -sf "http://$1/readyz")" == *'"status": "ready"'* ]]; }
until_ok 60 "cloud /readyz" ready "$cloud_ip:9090" || fail "cloud pod never ready: $(curl -s "http://$cloud_ip:9090/readyz" | tr -d '\n ')"
until_ok 60 "site /readyz" ready "$site_ip:9091" || fail "site pod never ready: $(curl -s "http://$site_ip:9091/readyz" | tr -d '\n ')"
[ "$(curl -s "http://$site_ip:9091/healthz")" = ok ] || fail "site /healthz"
[ "$(curl -s "http://$cloud_ip:9090/healthz")" = ok ] || fail "cloud /healthz"
[[ "$(curl -s "http://$cloud_ip:9090/metrics")" == *'tunnel_build_info{program="tunnel-server"'* ]] || fail "cloud /metrics"
log "probes: /healthz ok and /readyz ready on both pods"

# ---------------------------------------------------------------------------------------------------------------
# 6. curl -> site Squid -> tunnel-client ==TLS==> tunnel-server -> outer Squid -> nginx, content by SHA-256.
proc_of() { podman inspect -f '{{.State.Pid}}' "$1"; }
rss_kb() { awk '/^VmRSS/ {print $2}' "/proc/$(proc_of "$1")/status"; }
cpu_ticks() { awk '{print $14 + $15}' "/proc/$(proc_of "$1")/stat"; }
server_c="$cloud_pod-tunnel-server"; client_c="$site_pod-tunnel-client"
log "measure: idle RSS tunnel-server $(rss_kb "$server_c") KiB, tunnel-client $(rss_kb "$client_c") KiB"
want=$(sha256sum <"$work/web/big.bin" | cut -d' ' -f1)
# Squid probes its parent as it starts; if that was before tunnel-client listened, Squid answers 500 itself until a
# later probe revives the parent (docs/operations.md, Deploy on Kubernetes: start order).
first_ok() { curl -sf -o /dev/null -x "http://$site_ip:3128" --cacert "$work/web/cert.pem" "https://$web_ip/"; }
through() { curl -s -o /dev/null -w '%{http_code}' -x "http://$site_ip:3128" --cacert "$work/web/cert.pem" "https://$web_ip/big.bin" || true; }
t_first=$SECONDS
until_ok 60 "a first request through the site Squid" first_ok || fail "no request got through: $(through)"
log "first request through the chain answered $((SECONDS - t_first)) s after the pods were ready"
curl -sf -o /dev/null -x "http://$site_ip:3128" --cacert "$work/web/cert.pem" "https://$web_ip/big.bin" || true # warm-up
cpu0_s=$(cpu_ticks "$server_c"); cpu0_c=$(cpu_ticks "$client_c"); t0=$(date +%s.%N)
for i in 1 2 3 4; do
  got=$(timeout 120 curl -sf -x "http://$site_ip:3128" --cacert "$work/web/cert.pem" "https://$web_ip/big.bin" | sha256sum | cut -d' ' -f1)
  [ "$got" = "$want" ] || { fail "download $i through the tunnel: sha256 $got, want $want"; break; }
done
t1=$(date +%s.%N); cpu1_s=$(cpu_ticks "$server_c"); cpu1_c=$(cpu_ticks "$client_c")
hz=$(getconf CLK_TCK)
awk -v s=$((cpu1_s - cpu0_s)) -v c=$((cpu1_c - cpu0_c)) -v hz="$hz" -v t="$(echo "$t1 - $t0" | bc)" 'BEGIN {
  gb = 4 * 32 * 1048576 * 8 / 1e9;
  printf "%s kube-play: measure: 4 x 32 MiB HTTPS through the chain in %.1f s: CPU tunnel-server %.2f s, tunnel-client %.2f s = %.2f and %.2f CPU-s per Gbit\n",
    strftime("%H:%M:%S"), t, s / hz, c / hz, s / hz / gb, c / hz / gb }'
log "measure: RSS after the transfers tunnel-server $(rss_kb "$server_c") KiB, tunnel-client $(rss_kb "$client_c") KiB"
[[ "$(podman logs "$cloud_pod-squid" 2>&1)" == *"CONNECT $web_ip:443"* ]] || fail "the outer Squid did not log CONNECT $web_ip:443"
log "HTTPS through the site Squid and the tunnel: 4 x 32 MiB intact (sha256 $want)"

# ---------------------------------------------------------------------------------------------------------------
# 7. Rotation: a kubelet-style Secret update while a transfer both ways is half done.
rm -f "$work/gate" "$work/started"
python3 tests/deploy/helpers.py duplex-client "$site_ip" 3128 "$echo_ip:443" $((16 * 1024 * 1024)) "$work/gate" "$work/started" \
  >"$work/duplex.out" 2>&1 &
duplex_pid=$!
until_ok 60 "the duplex transfer's first halves" test -f "$work/started" || fail "duplex transfer did not start: $(cat "$work/duplex.out")"
certs renew tunnel.example.com >/dev/null
certs export-k8s-secret tunnel.example.com --secret-name tunnel-server-tls --out "$work/server-secret.yaml" --force >/dev/null
python3 tests/deploy/helpers.py secret-volume "$work/server-secret.yaml" "$work/secrets/server" --gid 10001
second_serial=$(serial_of "$work/secrets/server/tls.crt")
[ "$first_serial" != "$second_serial" ] || fail "renew gave the same serial"
served_serial() {
  timeout 10 openssl s_client -connect "$cloud_ip:8443" -servername tunnel.example.com -CAfile "$pki/ca.pem" \
    -cert "$pki/issued/site-a.pem" -key "$pki/private/site-a.key" </dev/null 2>/dev/null | openssl x509 -noout -serial | cut -d= -f2
}
new_cert_served() { [ "$(served_serial)" = "$second_serial" ]; }
until_ok 60 "tunnel-server serving serial $second_serial" new_cert_served \
  && log "rotation: new handshakes get serial $second_serial (was $first_serial)" \
  || fail "rotation: still serving $(served_serial)"
[[ "$(podman logs "$server_c" 2>&1)" == *"reloaded certificates"* ]] || fail "tunnel-server did not log the reload"
touch "$work/gate"
if wait "$duplex_pid"; then log "rotation: $(cat "$work/duplex.out")"; else fail "rotation: $(cat "$work/duplex.out")"; fi

# ---------------------------------------------------------------------------------------------------------------
# 8. Bad input: the tunnel image as the manifests run it (user 10001, read-only root), one thing wrong at a time.
bad() { # NAME EXPECTED-TEXT CONFIG-JSON HOSTDIR MOUNTPOINT
  local name=$1 expect=$2 config=$3 dir=$4 mountpoint=$5
  mkdir -p "$work/bad-$name"
  printf '%s\n' "$config" >"$work/bad-$name/server.json"
  local out rc=0
  containers+=("$id-bad-$name")
  out=$(timeout 60 podman run --rm --name "$id-bad-$name" --read-only -v "$work/bad-$name:/etc/tunnel/config:ro" \
    -v "$dir:$mountpoint:ro" "$tunnel_image" --config /etc/tunnel/config/server.json 2>&1) || rc=$?
  if [ "$rc" -ne 3 ] || [[ "$out" != *"$expect"* ]]; then
    fail "bad input '$name': exit $rc, wanted 3 and '$expect' in: $out"
  else
    log "bad input '$name': exit 3: $(printf '%s' "$out" | grep -F -- "$expect" | head -1 | cut -c1-400)"
  fi
}
cfg='{"listen": "*:8443", "upstreams": ["127.0.0.1:3128"], "ca": "/etc/tunnel/tls/ca.crt", "cert": "/etc/tunnel/tls/tls.crt", "key": "/etc/tunnel/tls/tls.key"}'
python3 tests/deploy/helpers.py secret-volume "$work/server-secret.yaml" "$work/secrets/nokey" --gid 10001 --drop tls.key
bad missing-key "tls.key" "$cfg" "$work/secrets/nokey" /etc/tunnel/tls
bad wrong-mount "/etc/tunnel/tls/tls.crt" "$cfg" "$work/secrets/server" /etc/tls
python3 tests/deploy/helpers.py secret-volume "$work/server-secret.yaml" "$work/secrets/open" --gid 10001 --mode 0644
bad world-readable "defaultMode: 0440" "$cfg" "$work/secrets/open" /etc/tunnel/tls
bad read-only-fs "emptyDir" "${cfg%\}}, \"log\": {\"file\": \"/var/log/server.log\"}}" "$work/secrets/server" /etc/tunnel/tls

# ---------------------------------------------------------------------------------------------------------------
# 9. The cloud pod removed: the site answers 503 with the reason; its /readyz says not ready.
# As in a cluster: deleting the pod first removes it from the Service's endpoints, and kube-proxy then rejects
# connections to the Service (refused), which the stand-in does once its process is stopped (by its PID); then the
# pod gets SIGTERM and goes.
podman exec "$id-svc" sh -c 'kill "$(cat /tmp/service-proxy.pid)"'
podman pod rm -f -t 10 "$cloud_pod" >/dev/null
answer() { curl -s -o "$work/503.body" -D "$work/503.head" -w '%{http_code}' -x "http://$site_ip:3128" --cacert "$work/web/cert.pem" "https://$web_ip/big.bin" || true; }
is_503() { [ "$(answer)" = 503 ] || [ "$(awk 'NR==1 {print $2}' "$work/503.head" 2>/dev/null)" = 503 ]; }
if until_ok 60 "503 from the site with the cloud gone" is_503; then
  reason=$(grep -i '^X-Tunnel-Error' "$work/503.head" | head -1 | tr -d '\r')
  [ -n "$reason" ] && log "cloud gone: 503, $reason" || fail "503 without X-Tunnel-Error: $(cat "$work/503.head")"
else
  fail "cloud gone: no 503 (last: $(head -1 "$work/503.head" 2>/dev/null))"
fi
not_ready() { [ "$(curl -s -o /dev/null -w '%{http_code}' "http://$site_ip:9091/readyz")" = 503 ]; }
until_ok 60 "site /readyz 503" not_ready && log "cloud gone: site /readyz 503: $(curl -s "http://$site_ip:9091/readyz" | tr -d '\n' | tr -s ' ' | cut -c1-200)" \
  || fail "site /readyz still ready with the cloud gone"
[ "$(curl -s "http://$site_ip:9091/healthz")" = ok ] || fail "site /healthz with the cloud gone"

if [ "$failures" -ne 0 ]; then log "$failures check(s) failed"; exit 1; fi
log "all checks passed"
