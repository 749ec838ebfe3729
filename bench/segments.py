#!/usr/bin/env python3
"""Splits each request of a one-connection-at-a-time load into the time spent between hops (issue 17's trace).

  bench/segments.py CAPTURE.pcap CLIENT_PORT SERVER_PORT UPSTREAM_PORT

CAPTURE is `tcpdump -i lo -s 128 -w CAPTURE.pcap 'tcp port CLIENT_PORT or tcp port SERVER_PORT or tcp port
UPSTREAM_PORT'` taken while `wrk -t1 -c1 -H 'Connection: close'` runs through a tunnel pair to an HTTP upstream
(tunnel-client on CLIENT_PORT, tunnel-server on SERVER_PORT, the upstream on UPSTREAM_PORT); requests follow one
another, so each starts with wrk's SYN and owns every packet until the next. Per request: wrk's SYN to its request
bytes (accept), to the first bytes tunnel-client sends tunnel-server (client_fwd), to tunnel-server's SYN to the
upstream (srv_to_upstream), to the request reaching the upstream (upstream_connect), to its answer (upstream), to
tunnel-server sending it on (srv_back), to tunnel-client handing it to wrk (client_back). Prints each segment's
median over the middle 20 % of requests and over the slowest 2 %, and which segment grew most in each slow one.
Then the requests grouped by how many TLS handshakes to SERVER_PORT were under way while they were (from a handshake's
SYN to the client's second flight, its Finished): with a warm pool these are the refills running beside the requests
(with no pool, each request's own handshake counts as one). Needs tshark.
"""
import collections
import statistics
import subprocess
import sys


def events(pcap):
    fields = ["frame.time_epoch", "tcp.srcport", "tcp.dstport", "tcp.flags.syn", "tcp.flags.ack", "tcp.len"]
    cmd = ["tshark", "-r", pcap, "-T", "fields"] + [a for f in fields for a in ("-e", f)]
    out = subprocess.run(cmd, capture_output=True, text=True, check=True).stdout
    for line in out.splitlines():
        t, sp, dp, syn, ack, ln = line.split("\t")
        yield float(t), int(sp), int(dp), syn in ("1", "True"), ack in ("1", "True"), int(ln or 0)


def main(pcap, cli, srv, up):
    ev = list(events(pcap))
    starts = [(e[0], e[1]) for e in ev if e[2] == cli and e[3] and not e[4]]
    tls = handshakes(ev, srv)
    requests = []
    for i, (t0, port) in enumerate(starts):
        end = starts[i + 1][0] if i + 1 < len(starts) else float("inf")
        window = [e for e in ev if t0 <= e[0] < end]

        def first(pred, after=t0):
            return next((e[0] for e in window if e[0] >= after and pred(e)), None)

        req = first(lambda e: e[1] == port and e[2] == cli and e[5] > 0)
        fwd = req and first(lambda e: e[2] == srv and e[5] > 0, req)
        dial = fwd and first(lambda e: e[2] == up and e[3] and not e[4], fwd)
        sent = dial and first(lambda e: e[2] == up and e[5] > 0, dial)
        answer = sent and first(lambda e: e[1] == up and e[5] > 0, sent)
        back = answer and first(lambda e: e[1] == srv and e[5] > 0, answer)
        done = back and first(lambda e: e[1] == cli and e[2] == port and e[5] > 0, back)
        if not done:
            continue
        requests.append({"total": done - t0, "accept": req - t0, "client_fwd": fwd - req, "srv_to_upstream": dial - fwd,
                         "upstream_connect": sent - dial, "upstream": answer - sent, "srv_back": back - answer,
                         "client_back": done - back,
                         "handshakes": sum(1 for a, b in tls if a < done and b > t0)})
    if not requests:
        sys.exit("no complete request found")
    requests.sort(key=lambda r: r["total"])
    n = len(requests)
    middle, slow = requests[int(n * 0.4):int(n * 0.6)] or requests, requests[int(n * 0.98):]
    print(f"{len(starts)} connections, {n} complete requests")
    print(f"{'segment (ms)':<18}{'median':>10}{'slowest 2%':>12}")
    keys = [k for k in requests[0] if k != "handshakes"]
    base = {k: statistics.median(r[k] for r in middle) for k in keys}
    for k in keys:
        print(f"{k:<18}{1000 * base[k]:>10.3f}{1000 * statistics.median(r[k] for r in slow):>12.3f}")
    grew = collections.Counter(max((k for k in keys if k != "total"), key=lambda k: r[k] - base[k]) for r in slow)
    print("segment that grew most, in each of the slowest 2 %:", dict(grew))
    by_overlap = collections.defaultdict(list)
    for r in requests:
        by_overlap[r["handshakes"]].append(r["total"])
    print("handshakes to the server under way during the request: requests, p50 and p90 of their total (ms)")
    for k in sorted(by_overlap):
        totals = sorted(by_overlap[k])
        print(f"  {k}: {len(totals):>6} {1000 * totals[len(totals) // 2]:>8.3f} {1000 * totals[int(len(totals) * 0.9)]:>8.3f}")


def handshakes(ev, srv):
    """(start, end) of each TLS handshake to srv: its SYN, then the client's second data packet (its Finished)."""
    syn, sent, spans = {}, collections.Counter(), []
    for t, sp, dp, is_syn, ack, ln in ev:
        if dp == srv and is_syn and not ack:
            syn[sp] = t
        elif dp == srv and ln > 0 and sp in syn:
            sent[sp] += 1
            if sent[sp] == 2:
                spans.append((syn[sp], t))
    return sorted(spans)


if __name__ == "__main__":
    if len(sys.argv) != 5:
        sys.exit(__doc__)
    main(sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4]))
