#!/usr/bin/env bash
# Publishes both daemons, in the shipped form, into OUTDIR (every setting comes from the csproj files and
# src/Daemon.props, so `dotnet publish` by hand gives the same).
#   scripts/publish.sh OUTDIR            framework-dependent (needs the .NET 10 + ASP.NET Core 10 runtimes)
#   scripts/publish.sh --aot OUTDIR      Native AOT, linux-x64 (opt-in, -p:TunnelAot=true; needs gcc to link)
set -euo pipefail
args=()
if [ "${1:-}" = --aot ]; then args+=(-p:TunnelAot=true); shift; fi
[ $# -eq 1 ] || { sed -n '2,6p' "$0" | sed 's/^# \{0,1\}//' >&2; exit 2; }
out=$1
cd "$(dirname "$0")/.."
export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1
for p in TunnelServer TunnelClient; do
  dotnet publish "src/$p/$p.csproj" -c Release -o "$out" "${args[@]}"
done
