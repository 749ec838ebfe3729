#!/usr/bin/env bash
# A minimal runtime base for the tunnel image, made from Debian's packages with mmdebstrap (no registry needed): what
# the Native AOT daemons load and nothing else. No shell, no package manager, no user database.
#
#   deploy/container/make-base.sh [--suite SUITE] [--tag IMAGE] [--out TARBALL]
#
#   --suite   Debian suite (default bookworm); the mirror is whatever apt on this machine uses
#   --tag     podman image to import it as (default localhost/tunnel-base:SUITE); --tag '' only writes the tarball
#   --out     where the root file system tarball goes (default artifacts/deploy/tunnel-base-SUITE.tar)
#
# What it holds (deploy/container/README.md): glibc's loader and libraries (libc6, libgcc-s1), OpenSSL 3's libraries
# and configuration (libssl3; openssl for /etc/ssl/openssl.cnf, its binary removed), the CA bundle
# /etc/ssl/certs/ca-certificates.crt made from the ca-certificates package as update-ca-certificates makes it (for a
# tunnel-client tunnel without `ca`), /etc/os-release, an /etc/nsswitch.conf that looks in /etc/hosts before DNS, and
# one file per package in /var/lib/dpkg/status.d/ (as distroless images do) so that image scanners know the versions.
# Documentation, manual pages, gconv modules (iconv; the daemons use invariant globalization) and the packages'
# helper programs are left out. Then: scripts/package.sh OUTDIR --image --base localhost/tunnel-base:bookworm
set -euo pipefail

# mmdebstrap runs this script again as its extract hook: ROOT is the extracted tree, the .deb files still in its apt
# cache.
if [ "${1:-}" = --populate ]; then
  root=${2:?--populate needs the root directory}
  keep=(base-files libc6 libgcc-s1 gcc-12-base libssl3 openssl ca-certificates)
  install -d -m 0755 "$root/var/lib/dpkg/status.d"
  for deb in "$root"/var/cache/apt/archives/*.deb; do
    pkg=$(dpkg-deb -f "$deb" Package)
    keeping=no
    for k in "${keep[@]}"; do [ "$pkg" = "$k" ] && keeping=yes; done
    if [ "$keeping" = yes ]; then
      dpkg-deb -f "$deb" >"$root/var/lib/dpkg/status.d/$pkg"
    else
      # Pulled in as a dependency of a package kept for one file (mawk for base-files, debconf for ca-certificates):
      # its files go.
      dpkg-deb --fsys-tarfile "$deb" | tar -t | sed -n 's:^\./::p' | while read -r f; do
        [ -n "$f" ] && [ ! -d "$root/$f" ] && rm -f "$root/$f"
      done
    fi
  done
  # The CA bundle, as update-ca-certificates writes it with the default /etc/ca-certificates.conf (every certificate
  # the package ships), and OpenSSL's hashed-directory form is not needed: .NET and OpenSSL read the bundle.
  install -d -m 0755 "$root/etc/ssl/certs"
  cat "$root"/usr/share/ca-certificates/*/*.crt >"$root/etc/ssl/certs/ca-certificates.crt"
  printf 'passwd: files\ngroup: files\nhosts: files dns\n' >"$root/etc/nsswitch.conf"
  rm -rf "$root"/usr/share/{doc,man,info,lintian,locale,bash-completion,debconf,perl5,pixmaps,ca-certificates} \
    "$root"/usr/share/{common-licenses,base-files} "$root/usr/lib/x86_64-linux-gnu/gconv" \
    "$root"/usr/bin/* "$root"/usr/sbin/* "$root"/var/lib/dpkg/{info,alternatives,triggers,status,arch,updates} \
    "$root/var/lib/dpkg/available" "$root/var/cache/debconf" "$root/etc/ca-certificates" "$root/etc/update-motd.d" \
    "$root"/etc/{profile,bash.bashrc,dpkg,skel,profile.d,issue,issue.net,motd,legal,debian_version} 2>/dev/null || true
  install -d -m 1777 "$root/tmp"
  exit 0
fi

suite=bookworm tag= tag_set=no out=
while [ $# -gt 0 ]; do
  case "$1" in
    --suite) suite=${2:?--suite needs a name}; shift ;;
    --tag) tag=$2; tag_set=yes; shift ;;
    --out) out=${2:?--out needs a path}; shift ;;
    -h|--help) sed -n '2,17p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "make-base.sh: unknown argument '$1' (see --help)" >&2; exit 2 ;;
  esac
  shift
done
[ "$tag_set" = yes ] || tag=localhost/tunnel-base:$suite
repo=$(cd "$(dirname "$0")/../.." && pwd)
out=${out:-$repo/artifacts/deploy/tunnel-base-$suite.tar}
for tool in mmdebstrap dpkg-deb; do
  command -v "$tool" >/dev/null || { echo "make-base.sh: $tool is missing: apt-get install mmdebstrap" >&2; exit 1; }
done
[ "$(id -u)" = 0 ] || { echo "make-base.sh: run as root (mmdebstrap's root mode keeps file ownership)" >&2; exit 1; }

mkdir -p "$(dirname "$out")"
script=$(cd "$(dirname "$0")" && pwd)/$(basename "$0")
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
timeout 900 mmdebstrap --mode=root --variant=extract --include=base-files,libc6,libssl3,openssl,ca-certificates \
  --extract-hook="\"$script\" --populate \"\$1\"" "$suite" "$work/root" </dev/null >"$work/log" 2>&1 \
  || { cat "$work/log" >&2; echo "make-base.sh: mmdebstrap failed (is a Debian mirror reachable through apt?)" >&2; exit 1; }
# What mmdebstrap itself leaves: its apt configuration and lock files, and the build host's resolv.conf and hostname
# (a container runtime mounts its own).
rm -rf "$work/root"/etc/{apt,resolv.conf,hostname} "$work/root"/var/{cache,lib,log}/apt "$work/root/usr/lib/ssl/misc"
tar -C "$work/root" --numeric-owner --sort=name -cf "$out.tmp.tar" .
mv "$out.tmp.tar" "$out"
echo "wrote $out ($(du -k "$out" | cut -f1) KiB)"
if [ -n "$tag" ]; then
  command -v podman >/dev/null || { echo "make-base.sh: podman is missing; the tarball is written, import it yourself" >&2; exit 1; }
  podman import --change 'ENV=PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' "$out" "$tag" >"$work/log" 2>&1 \
    || { cat "$work/log" >&2; exit 1; }
  echo "imported $tag ($(podman image inspect --format '{{.Size}}' "$tag") bytes)"
fi
