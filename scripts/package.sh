#!/usr/bin/env bash
# Builds the release artifacts into OUTDIR, in one command:
#   tunnel_VERSION_amd64.deb         both daemons (with the certs CLI), systemd units, /etc/tunnel examples, a
#                                    'tunnel' system user made by postinst
#   tunnel-VERSION-linux-x64.tar.gz  the same binaries, units and examples, for unpacking anywhere
#   tunnel-image-VERSION.tar         the container image from deploy/container/Containerfile (oci-archive), also
#                                    tagged localhost/tunnel:VERSION in podman's store; built when podman is on
#                                    PATH (or with --image; --no-image skips it)
#
# Usage: scripts/package.sh OUTDIR [--image|--no-image] [--base IMAGE]
#   --base IMAGE  the container's base (default: the Containerfile's, mcr.microsoft.com/dotnet/runtime-deps);
#                 the tests pass one made locally with mmdebstrap.
# The binaries come from scripts/publish.sh, the one place that decides their form.
set -euo pipefail
cd "$(dirname "$0")/.."
repo=$PWD
out=${1:?usage: scripts/package.sh OUTDIR [--image|--no-image] [--base IMAGE]}
shift
image=auto
base=
while [ $# -gt 0 ]; do
  case "$1" in
    --image) image=yes ;;
    --no-image) image=no ;;
    --base) base=${2:?--base needs an image}; shift ;;
    *) echo "package.sh: unknown option $1" >&2; exit 2 ;;
  esac
  shift
done
if [ "$image" = auto ]; then
  if command -v podman >/dev/null 2>&1; then image=yes; else image=no; fi
fi

version=$(sed -n 's:.*<Version>\(.*\)</Version>.*:\1:p' Directory.Build.props)
arch=amd64
mkdir -p "$out"
out=$(cd "$out" && pwd)
work="$repo/artifacts/package"
rm -rf "$work"
mkdir -p "$work"

# 1. The binaries (also what the Containerfile's host-binaries stage copies: artifacts/package/publish).
scripts/publish.sh "$work/publish"

# 2. The Debian package.
root="$work/deb"
install -d "$root/DEBIAN" "$root/usr/lib/tunnel" "$root/usr/bin" "$root/lib/systemd/system" "$root/etc/tunnel" \
  "$root/usr/share/doc/tunnel/examples"
cp -a "$work/publish/." "$root/usr/lib/tunnel/"
ln -s ../lib/tunnel/tunnel-server "$root/usr/bin/tunnel-server"
ln -s ../lib/tunnel/tunnel-client "$root/usr/bin/tunnel-client"
# The units in deploy/systemd name /usr/local/bin (a tarball install); the package's binaries are in /usr/bin.
for unit in deploy/systemd/*.service; do
  sed 's:/usr/local/bin/:/usr/bin/:g' "$unit" >"$root/lib/systemd/system/$(basename "$unit")"
done
install -m 0644 deploy/examples/client.json "$root/etc/tunnel/client.json.example"
install -m 0644 deploy/examples/server.json "$root/etc/tunnel/server.json.example"
install -m 0644 deploy/openssl/tunnel-server.cnf "$root/usr/share/doc/tunnel/examples/openssl.cnf"
install -m 0644 README.md "$root/usr/share/doc/tunnel/README.md"
installed_kb=$(du -sk "$root" | cut -f1)
cat >"$root/DEBIAN/control" <<CONTROL
Package: tunnel
Version: $version
Architecture: $arch
Maintainer: Tunnel contributors <tunnel@localhost>
Section: net
Priority: optional
Installed-Size: $installed_kb
Depends: libc6 (>= 2.28), libgcc-s1, libstdc++6, libssl3 | libssl1.1, ca-certificates, passwd, procps
Description: TLS tunnel relay pair for proxied traffic through strict firewalls
 tunnel-client (next to Squid, as its cache_peer parent) and tunnel-server (in front of the upstream proxy)
 carry each connection in TLS 1.3 with mutual authentication. 'tunnel-server certs' runs the private CA.
 Native AOT binaries: no .NET runtime needed.
CONTROL
printf '/etc/tunnel/client.json.example\n/etc/tunnel/server.json.example\n' >"$root/DEBIAN/conffiles"
cat >"$root/DEBIAN/postinst" <<'POSTINST'
#!/bin/sh
set -e
if [ "$1" = configure ]; then
  if ! getent passwd tunnel >/dev/null; then
    useradd --system --user-group --no-create-home --home-dir /nonexistent --shell /usr/sbin/nologin \
      --comment "Tunnel daemons" tunnel
  fi
  # The daemons read their keys from here; they refuse keys group or others can read (chmod 600, owned by tunnel).
  chown root:tunnel /etc/tunnel
  chmod 0750 /etc/tunnel
  if [ -d /run/systemd/system ]; then systemctl daemon-reload >/dev/null 2>&1 || true; fi
fi
exit 0
POSTINST
cat >"$root/DEBIAN/postrm" <<'POSTRM'
#!/bin/sh
set -e
if [ -d /run/systemd/system ]; then systemctl daemon-reload >/dev/null 2>&1 || true; fi
exit 0
POSTRM
cat >"$root/DEBIAN/prerm" <<'PRERM'
#!/bin/sh
set -e
if [ "$1" = remove ] && [ -d /run/systemd/system ]; then
  systemctl stop tunnel-client.service tunnel-server.service >/dev/null 2>&1 || true
fi
exit 0
PRERM
chmod 0755 "$root/DEBIAN/postinst" "$root/DEBIAN/postrm" "$root/DEBIAN/prerm"
deb="$out/tunnel_${version}_${arch}.deb"
dpkg-deb --root-owner-group -Zxz --build "$root" "$deb" >/dev/null
echo "wrote $deb"

# 3. The tarball: the binaries, the units (as in deploy/systemd: /usr/local/bin) and the examples.
tdir="$work/tarball/tunnel-$version"
install -d "$tdir/bin" "$tdir/systemd" "$tdir/examples"
cp -a "$work/publish/." "$tdir/bin/"
cp deploy/systemd/*.service "$tdir/systemd/"
cp deploy/examples/*.json deploy/openssl/tunnel-server.cnf "$tdir/examples/"
cp README.md "$tdir/"
tarball="$out/tunnel-$version-linux-x64.tar.gz"
tar -C "$work/tarball" --owner=0 --group=0 -czf "$tarball" "tunnel-$version"
echo "wrote $tarball"

# 4. The container image, from the binaries just published (the Containerfile's host-binaries stage).
if [ "$image" = yes ]; then
  args=(--build-arg BINARIES=host-binaries)
  [ -n "$base" ] && args+=(--build-arg "BASE=$base")
  podman build "${args[@]}" -f deploy/container/Containerfile -t "localhost/tunnel:$version" -t localhost/tunnel:latest . >"$work/image-build.log" 2>&1 \
    || { cat "$work/image-build.log" >&2; exit 1; }
  rm -f "$out/tunnel-image-$version.tar"
  podman save --format oci-archive -o "$out/tunnel-image-$version.tar" "localhost/tunnel:$version" >/dev/null
  echo "wrote $out/tunnel-image-$version.tar (localhost/tunnel:$version)"
fi
