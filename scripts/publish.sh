#!/usr/bin/env bash
# Publishes tunnel-server and tunnel-client into one folder: the one place that decides what form the shipped
# binaries take. test.sh (the end-to-end tests), bench/run.sh, scripts/package.sh (Debian package, tarball, image) and
# deploy/container/Containerfile (its SDK stage) all call it, so what is tested and measured is what ships, and
# switching the form is a change here only. Every other setting comes from the csproj files and src/Daemon.props.
#
#   scripts/publish.sh OUTDIR [dotnet publish args]       Native AOT, linux-x64 (the shipped form; -p:TunnelAot=true,
#                                                         needs gcc or clang to link): one native file per daemon, no
#                                                         .NET runtime on the target, half the memory and a quarter
#                                                         of the start-up of the JIT build (docs/operations.md,
#                                                         "Footprint")
#   scripts/publish.sh --jit OUTDIR [dotnet publish args] self-contained JIT build, linux-x64, both daemons sharing one
#                                                         copy of the runtime (the form shipped before 0.2; kept for
#                                                         comparison and for platforms without a native linker)
#
# Every form still loads the system's libssl.so.3/libcrypto.so.3 at run time.
set -euo pipefail
cd "$(dirname "$0")/.."
form=(-p:TunnelAot=true)
label="Native AOT"
case "${1:-}" in
  --jit) form=(--self-contained true); label="self-contained JIT"; shift ;;
  --aot) shift ;;  # the default; accepted for scripts written before it was
esac
out=${1:?usage: scripts/publish.sh [--jit] OUTDIR [dotnet publish args]}
shift
rid=${TUNNEL_RID:-linux-x64}
# Native AOT links with the system's C toolchain (gcc, or clang when installed) against zlib: on Debian, installed
# here when missing (root), so a fresh machine with only the .NET SDK can publish.
if [ "$label" = "Native AOT" ] && command -v dpkg-query >/dev/null 2>&1; then
  scripts/ensure-packages.sh gcc libc6-dev zlib1g-dev >&2
fi
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
