#!/usr/bin/env python3
"""Reads wrk --latency output; prints 'requests_per_s p50_ms p90_ms p99_ms requests errors' ('null' where missing).

errors = socket errors (connect, read, write, timeout) + non-2xx/3xx responses. A run with no completed request,
or where errors exceed 1 % of requests, has no rate (so a broken pair never produces a good-looking number).
"""
import re
import sys

UNITS_MS = {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60000.0}


def ms(text):
    m = re.fullmatch(r"([\d.]+)(us|ms|s|m)", text)
    return float(m.group(1)) * UNITS_MS[m.group(2)] if m else None


def main(path):
    out = open(path, encoding="utf-8", errors="replace").read()
    rate = re.search(r"^Requests/sec:\s+([\d.]+)", out, re.M)
    p50 = re.search(r"^\s+50%\s+(\S+)", out, re.M)
    p90 = re.search(r"^\s+90%\s+(\S+)", out, re.M)
    p99 = re.search(r"^\s+99%\s+(\S+)", out, re.M)
    requests = re.search(r"^\s+(\d+) requests in", out, re.M)
    errors = 0
    sock = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out)
    if sock:
        errors += sum(int(g) for g in sock.groups())
    non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    if non2xx:
        errors += int(non2xx.group(1))
    n = int(requests.group(1)) if requests else 0
    ok = n > 0 and errors <= 0.01 * n
    fields = [
        float(rate.group(1)) if rate and ok else None,
        ms(p50.group(1)) if p50 and ok else None,
        ms(p90.group(1)) if p90 and ok else None,
        ms(p99.group(1)) if p99 and ok else None,
        n,
        errors,
    ]
    print(" ".join("null" if f is None else str(round(f, 4) if isinstance(f, float) else f) for f in fields))


if __name__ == "__main__":
    main(sys.argv[1])
