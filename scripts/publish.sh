#!/usr/bin/env bash
# Publishes tunnel-server and tunnel-client into one folder: the one place that decides what form the shipped
# binaries take. scripts/package.sh (Debian package, tarball) and deploy/container/Containerfile (its SDK stage) both
# call it, so switching the form is a change here only. Every other setting comes from the csproj files and
# src/Daemon.props.
#
#   scripts/publish.sh OUTDIR [dotnet publish args]        self-contained linux-x64 (the shipped form): no .NET
#                                                          runtime needed on the target, both daemons sharing one copy
#   scripts/publish.sh --aot OUTDIR [dotnet publish args]  Native AOT, linux-x64 (opt-in, -p:TunnelAot=true; needs gcc
#                                                          to link): about half the memory, a quarter of the start-up
#                                                          (docs/operations.md, "Footprint")
#
# Every form still loads the system's libssl.so.3/libcrypto.so.3 at run time.
set -euo pipefail
cd "$(dirname "$0")/.."
form=(--self-contained true)
label="self-contained"
if [ "${1:-}" = --aot ]; then form=(-p:TunnelAot=true); label="Native AOT"; shift; fi
out=${1:?usage: scripts/publish.sh [--aot] OUTDIR [dotnet publish args]}
shift
rid=${TUNNEL_RID:-linux-x64}
export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1
rm -rf "$out"
mkdir -p "$out"
for project in src/TunnelServer/TunnelServer.csproj src/TunnelClient/TunnelClient.csproj; do
  log=$(mktemp)
  if ! dotnet publish "$project" -c Release -r "$rid" "${form[@]}" -o "$out" "$@" >"$log" 2>&1; then
    cat "$log" >&2; rm -f "$log"; exit 1
  fi
  rm -f "$log"
done
# Debug symbols and XML docs are not shipped.
find "$out" -maxdepth 1 \( -name '*.pdb' -o -name '*.xml' -o -name '*.dbg' \) -delete
test -x "$out/tunnel-server" && test -x "$out/tunnel-client"
echo "published tunnel-server and tunnel-client ($rid, $label) into $out"
