#!/usr/bin/env bash
# The Debian package, installed into a clean Debian 12 (a container from a root file system made with mmdebstrap,
# with systemd for systemd-analyze and procps for the units' /bin/kill; cached in artifacts/deploy/): dpkg -i succeeds, the 'tunnel' system user exists,
# both binaries and the certs CLI run, /etc/tunnel holds the examples and belongs to root:tunnel 0750, and
# 'systemd-analyze verify' accepts both units; then the tarball's binaries run on the host.
# Uses artifacts/dist from scripts/package.sh (tests/deploy/kube-play.sh builds it; built here if missing).
set -euo pipefail
repo=$(cd "$(dirname "$0")/../.." && pwd)
cd "$repo"
export CONTAINERS_CONF="$repo/tests/deploy/containers.conf"
version=$(sed -n 's:.*<Version>\(.*\)</Version>.*:\1:p' Directory.Build.props)
deb="artifacts/dist/tunnel_${version}_amd64.deb"
tarball="artifacts/dist/tunnel-$version-linux-x64.tar.gz"
image=localhost/tunnel-test-systemd:bookworm
rootfs=artifacts/deploy/systemd-bookworm.tar
name=tnlpkg$(od -An -N3 -tx1 /dev/urandom | tr -d ' \n')
work=$(mktemp -d "/tmp/$name.XXXXXX")
trap 'podman rm -f -t 0 "$name" >/dev/null 2>&1 || true; rm -rf "$work"' EXIT
log() { printf '%s package: %s\n' "$(date +%H:%M:%S)" "$*"; }

if [ ! -f "$deb" ] || [ ! -f "$tarball" ]; then
  log "building the package (scripts/package.sh --no-image)"
  timeout 1200 scripts/package.sh artifacts/dist --no-image | sed 's/^/  /'
fi
if [ ! -f "$rootfs" ]; then
  log "making $rootfs with mmdebstrap"
  # unshare mode: with systemd in the root, root mode left /proc and /sys mounted here and failed to make the tarball.
  timeout 900 mmdebstrap --mode=unshare --variant=minbase --include=ca-certificates,libssl3,procps,systemd bookworm "$rootfs.tmp.tar" </dev/null >"$work/mmdebstrap.log" 2>&1 \
    || { cat "$work/mmdebstrap.log"; exit 1; }
  mv "$rootfs.tmp.tar" "$rootfs"
  podman rmi -f "$image" >/dev/null 2>&1 || true
fi
podman image exists "$image" || podman import --change 'ENV=PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' "$rootfs" "$image" >/dev/null

cp "$deb" "$work/tunnel.deb"
out=$(timeout 300 podman run --rm --name "$name" -v "$work/tunnel.deb:/tmp/tunnel.deb:ro" "$image" sh -euc '
  getent passwd tunnel && { echo "FAIL: user tunnel exists before the install"; exit 1; }
  dpkg -i /tmp/tunnel.deb >/tmp/dpkg.log 2>&1 || { cat /tmp/dpkg.log; exit 1; }
  echo "user: $(getent passwd tunnel)"
  [ "$(stat -c "%U:%G %a" /etc/tunnel)" = "root:tunnel 750" ] || { echo "FAIL: /etc/tunnel is $(stat -c "%U:%G %a" /etc/tunnel)"; exit 1; }
  ls /etc/tunnel/client.json.example /etc/tunnel/server.json.example >/dev/null
  echo "server: $(tunnel-server version)"
  echo "client: $(tunnel-client version)"
  setpriv --reuid=tunnel --regid=tunnel --clear-groups tunnel-server certs init-ca --dir /tmp/pki >/dev/null
  echo "certs: $(tunnel-server certs list --dir /tmp/pki | head -2 | tail -1)"
  # A config that validates, read as the tunnel user: exit 3 only for the missing certificate files.
  set +e
  setpriv --reuid=tunnel --regid=tunnel --clear-groups tunnel-client --config /etc/tunnel/client.json.example >/tmp/run.log 2>&1
  echo "client with the example config: exit $? ($(grep -c "does not exist" /tmp/run.log) missing files named)"
  set -e
  systemd-analyze verify /lib/systemd/system/tunnel-server.service /lib/systemd/system/tunnel-client.service
  echo "systemd-analyze verify: ok"
  dpkg -i /tmp/tunnel.deb >/dev/null 2>&1 && echo "reinstall: ok"
' 2>&1) || { echo "$out"; log "FAIL: the package did not install and run as expected"; exit 1; }
echo "$out" | sed 's/^/  /'
for want in "user: tunnel:" "server: tunnel-server $version" "client: tunnel-client $version" "exit 3 (3 missing files named)" \
  "systemd-analyze verify: ok" "reinstall: ok"; do
  [[ "$out" == *"$want"* ]] || { log "FAIL: expected '$want'"; exit 1; }
done

tar -C "$work" -xzf "$tarball"
[ "$("$work/tunnel-$version/bin/tunnel-server" version | head -1)" = "tunnel-server $version" ] || { log "FAIL: tarball's tunnel-server"; exit 1; }
ls "$work/tunnel-$version/systemd/tunnel-server.service" "$work/tunnel-$version/examples/server.json" >/dev/null
log "package and tarball: all checks passed"
