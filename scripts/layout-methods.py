#!/usr/bin/env python3
"""Helper of scripts/layout-profile.sh for a Native AOT binary published with symbols (-p:StripSymbols=false).

  layout-methods.py entries BINARY OUT     writes the entry addresses of BINARY's managed methods for
                                           LAYOUT_TRACE_METHODS (scripts/layout-trace.c)
  layout-methods.py ran BINARY FLAGS...    prints, in address order, every method that one of the LAYOUT_TRACE_OUT
                                           files (of runs of BINARY) marks as run
"""
import re
import struct
import subprocess
import sys


def methods(binary):
    """{address: [symbols]} of the methods in __managedcode, in address order (folded bodies share an address)."""
    out = subprocess.run(["readelf", "-SW", binary], capture_output=True, text=True, check=True).stdout
    m = re.search(r"__managedcode\s+\S+\s+([0-9a-f]+)\s+[0-9a-f]+\s+([0-9a-f]+)", out)
    if not m:
        sys.exit(f"{binary}: no __managedcode section (not a Native AOT binary?)")
    lo = int(m.group(1), 16)
    hi = lo + int(m.group(2), 16)
    found = {}
    nm = subprocess.run(["nm", "-n", "--defined-only", binary], capture_output=True, text=True, check=True).stdout
    for line in nm.splitlines():
        parts = line.split(None, 2)
        if len(parts) == 3 and parts[1] in "tT" and lo <= int(parts[0], 16) < hi:
            found.setdefault(int(parts[0], 16), []).append(parts[2])
    if not found:
        sys.exit(f"{binary}: no method symbols (publish with -p:StripSymbols=false)")
    return dict(sorted(found.items()))


def entries(binary, out):
    with open(out, "wb") as f:
        for address in methods(binary):
            f.write(struct.pack("<Q", address))


def ran(binary, flag_files):
    found = methods(binary)
    seen = bytearray(len(found))
    for path in flag_files:
        for i, flag in enumerate(open(path, "rb").read()[: len(seen)]):
            seen[i] |= flag
    names = 0
    for (_, symbols), flag in zip(found.items(), seen):
        if flag:
            for name in symbols:
                print(name)
                names += 1
    print(f"{binary}: {sum(1 for f in seen if f)} of {len(found)} methods ran ({names} names)", file=sys.stderr)


if __name__ == "__main__":
    if len(sys.argv) == 4 and sys.argv[1] == "entries":
        entries(sys.argv[2], sys.argv[3])
    elif len(sys.argv) >= 4 and sys.argv[1] == "ran":
        ran(sys.argv[2], sys.argv[3:])
    else:
        sys.exit(__doc__)
