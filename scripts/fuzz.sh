#!/usr/bin/env bash
# Coverage-guided fuzzing of every parser of untrusted bytes (fuzz/Tunnel.Fuzz; docs/fuzzing.md): SharpFuzz
# instruments Tunnel.Shared.dll, libFuzzer (Debian's libfuzzer-14-dev) drives it through fuzz/driver/dotnet-driver.c.
# Where libFuzzer cannot be built, falls back to random mutation of the corpus (not coverage-guided) and says so.
#
#   scripts/fuzz.sh --smoke                  every target for 5 s (the test command's bounded run)
#   scripts/fuzz.sh --seconds 600 crl        one target for 10 minutes
#   scripts/fuzz.sh --seconds 3600 --merge   every target for an hour, new corpus entries kept in fuzz/corpus
#   TUNNEL_FUZZ_MODE=mutate scripts/fuzz.sh   the fallback, on purpose
#
# Findings (an escaped exception, a hang past 10 s) are saved under artifacts/fuzz/findings/ and fail the run.
# Every committed regression input (fuzz/regressions/TARGET/) is replayed first.
set -euo pipefail
cd "$(dirname "$0")/.."

seconds=60
merge=0
targets=()
while [ $# -gt 0 ]; do
  case "$1" in
    --smoke) seconds=5; shift ;;
    --seconds) seconds="$2"; shift 2 ;;
    --merge) merge=1; shift ;;
    -h|--help) sed -n '2,13p' "$0"; exit 0 ;;
    *) targets+=("$1"); shift ;;
  esac
done

export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1
out=artifacts/fuzz
build=fuzz/Tunnel.Fuzz/bin/Release/net10.0
if [ ! -f "$build/Tunnel.Fuzz.dll" ]; then
  dotnet build fuzz/Tunnel.Fuzz/Tunnel.Fuzz.csproj -c Release >/dev/null
fi
if [ ${#targets[@]} -eq 0 ]; then
  mapfile -t targets < <(dotnet "$build/Tunnel.Fuzz.dll" list)
fi

# Known findings stay fixed (uninstrumented build).
for t in "${targets[@]}"; do
  if [ -d "fuzz/regressions/$t" ]; then
    dotnet "$build/Tunnel.Fuzz.dll" run "$t" "fuzz/regressions/$t" >/dev/null
  fi
done

mode=libfuzzer
why=""
if [ "${TUNNEL_FUZZ_MODE:-}" = mutate ]; then
  mode=mutate; why="TUNNEL_FUZZ_MODE=mutate"
elif ! scripts/ensure-packages.sh clang-14 libfuzzer-14-dev >/dev/null 2>&1; then
  mode=mutate; why="clang-14 and libfuzzer-14-dev could not be installed"
elif ! dotnet tool restore >/dev/null 2>&1; then
  mode=mutate; why="the sharpfuzz tool (SharpFuzz.CommandLine, .config/dotnet-tools.json) could not be restored"
fi

rm -rf "$out/bin" "$out/findings"
mkdir -p "$out/bin" "$out/findings" "$out/corpus"
if [ "$mode" = libfuzzer ]; then
  cp -r "$build/." "$out/bin/"
  if ! dotnet tool run sharpfuzz "$out/bin/Tunnel.Shared.dll" >"$out/instrument.log" 2>&1; then
    mode=mutate; why="sharpfuzz could not instrument Tunnel.Shared.dll (see $out/instrument.log)"
  elif ! { clang-14 -O1 -c fuzz/driver/dotnet-driver.c -o "$out/dotnet-driver.o" &&
           clang++-14 "$out/dotnet-driver.o" /usr/lib/llvm-14/lib/libFuzzer.a -lpthread -o "$out/dotnet-driver"; } 2>"$out/driver.log"; then
    mode=mutate; why="the libFuzzer driver did not build (see $out/driver.log)"
  fi
fi
if [ "$mode" = mutate ]; then
  echo "fuzz: coverage-guided fuzzing unavailable ($why); random mutation of the corpus instead" >&2
fi

failed=0
for t in "${targets[@]}"; do
  corpus="$out/corpus/$t"
  mkdir -p "$corpus"
  if [ "$mode" = libfuzzer ]; then
    log="$out/$t.log"
    # -timeout: an input that takes longer is a hang (the targets bound their own waits at 5 s).
    if TUNNEL_FUZZ_COMMAND="dotnet $PWD/$out/bin/Tunnel.Fuzz.dll libfuzzer $t" "$out/dotnet-driver" \
        -max_total_time="$seconds" -timeout=10 -max_len=65536 -print_final_stats=1 \
        -artifact_prefix="$out/findings/$t-" "$corpus" "fuzz/corpus/$t" >"$log" 2>&1; then
      execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log")
      cov=$(grep -o 'ft: [0-9]*' "$log" | tail -1 | cut -d' ' -f2)
      echo "fuzz $t: libFuzzer, ${execs:-?} execs in ${seconds}s, ${cov:-?} features, corpus $(find "$corpus" -type f | wc -l) new + $(find "fuzz/corpus/$t" -type f | wc -l) seeds"
    else
      echo "fuzz $t: FINDING (libFuzzer log: $log; input: $(ls "$out/findings/$t-"* 2>/dev/null | head -1))" >&2
      grep -m1 -A12 -E 'FuzzFindingException|Exception:' "$log" >&2 || tail -20 "$log" >&2
      failed=1
    fi
  else
    if ! (cd "$out/findings" && dotnet "$OLDPWD/$build/Tunnel.Fuzz.dll" mutate "$t" "$seconds" "$RANDOM" "$OLDPWD/fuzz/corpus/$t"); then
      echo "fuzz $t: FINDING (input in $out/findings)" >&2
      failed=1
    fi
  fi
  if [ "$merge" = 1 ] && [ "$mode" = libfuzzer ]; then
    TUNNEL_FUZZ_COMMAND="dotnet $PWD/$out/bin/Tunnel.Fuzz.dll libfuzzer $t" "$out/dotnet-driver" -merge=1 -timeout=10 -max_len=65536 "fuzz/corpus/$t" "$corpus" >/dev/null 2>&1 || true
  fi
done
exit "$failed"
