#!/usr/bin/env bash
# Runs every test: unit, in-process integration on loopback, and end-to-end with the published binaries against
# real Squid, stunnel, nginx and curl. Installs the Debian packages the tests need when they are missing (root).
set -euo pipefail
cd "$(dirname "$0")"

scripts/ensure-packages.sh squid stunnel4 nginx-light curl openssl apache2-utils prometheus haproxy \
  iproute2 nftables tcpdump tshark mitmproxy testssl.sh
# The deployment tests (tests/deploy/): podman with runc, base images from mmdebstrap, kubectl for kustomize.
scripts/ensure-packages.sh podman runc catatonit uidmap mmdebstrap python3-yaml bc systemd procps
command -v kubectl >/dev/null 2>&1 || scripts/ensure-packages.sh kubernetes-client

export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1
dotnet build Tunnel.sln -c Release -warnaserror
dotnet format Tunnel.sln --verify-no-changes --no-restore
# The end-to-end tests run the shipped form (Native AOT, scripts/publish.sh; about 3 minutes for both daemons here).
scripts/publish.sh artifacts/publish -warnaserror
export TUNNEL_PUBLISHED_DIR="$PWD/artifacts/publish"

dotnet test Tunnel.sln -c Release --no-build --blame-hang-timeout 5m --logger "console;verbosity=minimal" "$@"

# Coverage-guided fuzzing of every parser of untrusted bytes, 5 s per target (about a minute; docs/fuzzing.md has the
# longer run). Replays every recorded finding first; fails on a new one.
scripts/fuzz.sh --smoke

# The benchmark harness in smoke mode (about 2 minutes; a few seconds per figure), so that it keeps working.
# It measures nothing worth quoting; docs/benchmarks.md comes from a full run.
bench/run.sh --smoke
# The A/B harness too (about 40 s: publishes HEAD from a git worktree and the working tree, 1 s per direction).
bench/ab.sh --smoke HEAD

# Deployment (about 8 minutes; a clean clone also makes three Debian root file systems with mmdebstrap, about 2 minutes
# each, cached in artifacts/deploy/): the alerting rules with promtool; the package, tarball and image built by
# scripts/package.sh and the Kubernetes manifests run with podman kube play (tests/deploy/kube-play.sh); the package
# installed into a clean Debian (tests/deploy/package.sh).
tests/deploy/prometheus.sh
tests/deploy/kube-play.sh
tests/deploy/package.sh
