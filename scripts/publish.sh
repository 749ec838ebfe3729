#!/usr/bin/env bash
# Publishes tunnel-server and tunnel-client into one folder: the one place that decides what form the shipped
# binaries take. scripts/package.sh (Debian package, tarball) and deploy/container/Containerfile (its SDK stage) both
# call it, so switching the form (for instance to Native AOT) is a change here only.
#
# Today: self-contained for linux-x64 (no .NET runtime needed on the target: the container base is
# runtime-deps, which has only the native libraries .NET needs), both daemons in one folder sharing one copy of the
# runtime. Every build still loads the system's libssl.so.3/libcrypto.so.3 at run time.
#
# Usage: scripts/publish.sh OUTDIR [--no-restore]
set -euo pipefail
cd "$(dirname "$0")/.."
out=${1:?usage: scripts/publish.sh OUTDIR}
shift
rid=${TUNNEL_RID:-linux-x64}
export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1
rm -rf "$out"
mkdir -p "$out"
for project in src/TunnelServer/TunnelServer.csproj src/TunnelClient/TunnelClient.csproj; do
  log=$(mktemp)
  if ! dotnet publish "$project" -c Release -r "$rid" --self-contained true -o "$out" "$@" >"$log" 2>&1; then
    cat "$log" >&2; rm -f "$log"; exit 1
  fi
  rm -f "$log"
done
# Debug symbols and XML docs are not shipped.
find "$out" -maxdepth 1 \( -name '*.pdb' -o -name '*.xml' \) -delete
test -x "$out/tunnel-server" && test -x "$out/tunnel-client"
echo "published tunnel-server and tunnel-client ($rid, self-contained) into $out"
