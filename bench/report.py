#!/usr/bin/env python3
"""Turns a bench/run.sh output folder (raw.jsonl, meta.json, commands.txt, conf/, logs/) into report.md and
ratios.png. Exits 1 if any figure has no number for stunnel or for Tunnel.

Usage: report.py RESULTS_DIR
"""
import json
import os
import statistics
import sys
from collections import defaultdict

BENCH = os.path.dirname(os.path.abspath(__file__))


def figures(mem_ns):
    """(key, group, label, unit, better, target). target: None, ('ratio>=', x), ('ratio<=', x), ('tunnel<=', x)."""
    f = []
    g = "Bulk throughput (iperf3 through the pair)"
    f += [
        ("bulk.p1.up", g, "1 stream, client → server", "Gbit/s", "higher", ("ratio>=", 1.3)),
        ("bulk.p1.down", g, "1 stream, server → client (-R)", "Gbit/s", "higher", ("ratio>=", 1.3)),
        ("bulk.p8.up", g, "8 streams, client → server", "Gbit/s", "higher", None),
        ("bulk.p8.down", g, "8 streams, server → client (-R)", "Gbit/s", "higher", None),
    ]
    g = "One new connection per request (wrk, Connection: close, 1 KiB file)"
    f += [
        ("cpr.c50.rate", g, "50 connections: new connections/s", "conn/s", "higher", ("ratio>=", 3.0)),
        ("cpr.c50.p50", g, "50 connections: p50 latency", "ms", "lower", None),
        ("cpr.c50.p99", g, "50 connections: p99 latency", "ms", "lower", None),
        ("cpr.c1.rate", g, "1 connection: new connections/s", "conn/s", "higher", None),
        ("cpr.c1.p50", g, "1 connection: p50 latency", "ms", "lower", None),
        ("cpr.c1.p99", g, "1 connection: p99 latency", "ms", "lower", ("ratio<=", 0.5)),
    ]
    g = "Kept-alive connections (wrk, 1 KiB body, 50 connections)"
    f += [
        ("ka.c50.rate", g, "requests/s", "req/s", "higher", ("ratio>=", 1.3)),
        ("ka.c50.p50", g, "p50 latency", "ms", "lower", None),
        ("ka.c50.p99", g, "p99 latency", "ms", "lower", ("ratio<=", 1.0)),
    ]
    for n in mem_ns:
        g = f"Idle tunneled connections: {n:,} (fd limit 20,000 per process)"
        f += [
            (f"mem.{n}.client_kb", g, "client-side RSS per connection", "KiB", "lower", ("ratio<=", 0.2)),
            (f"mem.{n}.server_kb", g, "server-side RSS per connection", "KiB", "lower", ("ratio<=", 0.2)),
            (f"mem.{n}.failed", g, "connections refused or dropped", "count", "lower", ("tunnel<=", 0)),
            (f"mem.{n}.client_after_mb", g, "client RSS above idle baseline after all closed", "MiB", "lower", None),
            (f"mem.{n}.server_after_mb", g, "server RSS above idle baseline after all closed", "MiB", "lower", None),
            (f"mem.{n}.retained_pct", g, "pair: share of the growth still held after close", "%", "lower", ("tunnel<=", 25)),
        ]
    g = "Idle process (after a warm-up of 20 connections, before the load)"
    f += [
        ("mem.idle.client_mb", g, "client-side RSS", "MiB", "lower", None),
        ("mem.idle.server_mb", g, "server-side RSS", "MiB", "lower", None),
    ]
    g = "New connection over a 25 ms one-way delay (sequential, GET /)"
    f += [
        ("ttfb.p50", g, "time to first byte, p50", "ms", "lower", ("ratio<=", 0.5)),
        ("ttfb.p90", g, "time to first byte, p90", "ms", "lower", None),
    ]
    g = "CPU of both processes of the pair (utime + stime from /proc)"
    f += [
        ("cpu.bulk.p1.up", g, "per GB, bulk 1 stream up", "CPU-s/GB", "lower", None),
        ("cpu.bulk.p1.down", g, "per GB, bulk 1 stream down", "CPU-s/GB", "lower", None),
        ("cpu.bulk.p8.up", g, "per GB, bulk 8 streams up", "CPU-s/GB", "lower", None),
        ("cpu.bulk.p8.down", g, "per GB, bulk 8 streams down", "CPU-s/GB", "lower", None),
        ("cpu.cpr.c50", g, "per new connection, 50 connections", "CPU-ms/conn", "lower", None),
        ("cpu.cpr.c1", g, "per new connection, 1 connection", "CPU-ms/conn", "lower", None),
    ]
    return f


def fmt(x):
    if x is None:
        return "—"
    if x == 0:
        return "0"
    a = abs(x)
    if a >= 1000:
        return f"{x:,.0f}"
    if a >= 100:
        return f"{x:.0f}"
    if a >= 10:
        return f"{x:.1f}"
    if a >= 1:
        return f"{x:.2f}"
    return f"{x:.3f}"


def cell(values):
    if not values:
        return "no number"
    med = statistics.median(values)
    if len(values) == 1:
        return fmt(med)
    return f"{fmt(med)} ({fmt(min(values))}–{fmt(max(values))})"


def ratio_of(s, t):
    if s is None or t is None:
        return None
    if s == 0:
        return None if t == 0 else float("inf")
    return t / s


def verdict(target, ratio, t_med):
    if target is None:
        return "", None
    kind, x = target
    if kind == "ratio>=":
        text = f"≥ {x:g}×"
        ok = ratio is not None and ratio >= x
    elif kind == "ratio<=":
        text = f"≤ {x:g}×"
        ok = ratio is not None and ratio <= x
    else:  # tunnel<=: an absolute bound on Tunnel's own figure
        text = "Tunnel = 0" if x == 0 else f"Tunnel ≤ {x:g}"
        ok = t_med is not None and t_med <= x
    return text, ok


def warning_lines(out):
    """Warning-or-worse log events of each pair per section (stunnel LOG0-4, Tunnel WRN/ERR/FTL)."""
    import glob
    import re
    counts = defaultdict(lambda: [0, 0])
    for path in glob.glob(os.path.join(out, "logs", "*tunnel-*-*.log")):
        name = os.path.basename(path)
        impl = "stunnel" if name.startswith("stunnel-") else "tunnel"
        section = name.split("-")[1]
        pattern = r"LOG[0-4]\[" if impl == "stunnel" else r"^\S+ (WRN|ERR|FTL) "
        n = sum(1 for line in read_text(path).splitlines() if re.search(pattern, line))
        counts[section][0 if impl == "stunnel" else 1] += n
    parts = [f"{section} {s}/{t}" for section, (s, t) in sorted(counts.items()) if s or t]
    return ("- Warning-or-worse log events, stunnel/Tunnel, per section (see `logs/`): " + ", ".join(parts) + "."
            if parts else "- No warning-or-worse log event from either pair.")


def read_text(path):
    try:
        with open(path, encoding="utf-8", errors="replace") as fh:
            return fh.read()
    except OSError:
        return ""


def main(out):
    meta = json.load(open(os.path.join(out, "meta.json")))
    data = defaultdict(lambda: defaultdict(list))
    extras = defaultdict(list)
    with open(os.path.join(out, "raw.jsonl")) as fh:
        for line in fh:
            if not line.strip():
                continue
            r = json.loads(line)
            if r["value"] is not None:
                data[r["figure"]][r["impl"]].append(float(r["value"]))
            extras[(r["figure"], r["impl"])].append(r.get("extra") or {})

    mem_ns = [int(n) for n in str(meta["mem_ns"]).split()]
    figs = figures(mem_ns)
    rows = []
    missing = []
    for key, group, label, unit, better, target in figs:
        s = data[key].get("stunnel", [])
        t = data[key].get("tunnel", [])
        if not s:
            missing.append(f"{key} stunnel")
        if not t:
            missing.append(f"{key} tunnel")
        s_med = statistics.median(s) if s else None
        t_med = statistics.median(t) if t else None
        ratio = ratio_of(s_med, t_med)
        target_text, ok = verdict(target, ratio, t_med)
        rows.append(dict(key=key, group=group, label=label, unit=unit, better=better, s=s, t=t, s_med=s_med,
                         t_med=t_med, ratio=ratio, target=target_text, ok=ok))

    md = []
    md.append("# Tunnel vs stunnel: side-by-side benchmark\n")
    md.append(f"Generated by `bench/run.sh --{meta['mode']}` on {meta['stamp']} (UTC), Tunnel commit "
              f"`{meta['tunnel_commit']}`, in {meta.get('elapsed_s', 0) // 60} min. Regenerate with the same command; "
              "the raw numbers of every run are in `bench/results/<timestamp>/raw.jsonl`.\n")
    md.append("## Machine\n")
    md.append("| | |\n|---|---|")
    for label, k in [("CPU", "cpu"), ("cores", "cores"), ("memory", "memory"), ("OS", "os"), ("kernel", "kernel"),
                     ("OpenSSL", "openssl"), ("stunnel", "stunnel"), (".NET", "dotnet"), ("nginx", "nginx"),
                     ("iperf3", "iperf3"), ("wrk", "wrk")]:
        md.append(f"| {label} | {meta.get(k, '')} |")
    md.append(f"| open-file limit | {meta['fd_limit']} per process (`ulimit -n`), for every process of the run |")
    md.append(f"| load average | {meta.get('load_before', '?')} before, {meta.get('load_after', '?')} after "
              "(1, 5, 15 min; other work on the machine shows here) |")
    for impl in ("stunnel", "tunnel"):
        tls = read_text(os.path.join(out, "logs", f"tls-{impl}.txt"))
        proto = [l.split(":", 1)[1].strip() for l in tls.splitlines() if l.startswith(("Protocol version", "Ciphersuite", "Server Temp Key"))]
        if proto:
            md.append(f"| TLS negotiated, {'stunnel' if impl == 'stunnel' else 'Tunnel'} server | {', '.join(proto)} |")
    md.append("")

    md.append("## Results\n")
    md.append(f"Median of **{meta['runs']} run(s)** per figure, (min–max) in brackets; each load run lasts "
              f"{meta['duration_s']} s. Ratio = Tunnel median / stunnel median. "
              "✅ / ❌ = the project's target met / not met (blank: no target).\n")
    md.append("| figure | unit | stunnel | Tunnel | Tunnel/stunnel | target | |")
    md.append("|---|---|---|---|---|---|---|")
    group = None
    for r in rows:
        if r["group"] != group:
            group = r["group"]
            md.append(f"| **{group}** | | | | | | |")
        ratio = "—" if r["ratio"] is None else ("∞" if r["ratio"] == float("inf") else f"{r['ratio']:.2f}×")
        mark = "" if r["ok"] is None else ("✅" if r["ok"] else "❌")
        md.append(f"| {r['label']} | {r['unit']} | {cell(r['s'])} | {cell(r['t'])} | {ratio} | {r['target']} | {mark} |")
    md.append("")

    context = [("ctx.bulk.p1.up", "bulk, 1 stream (iperf3 straight to iperf3 -s)", "Gbit/s"),
               ("ctx.cpr.c50.rate", "new connection per request, 50 connections (wrk straight to nginx)", "conn/s"),
               ("ctx.cpr.c50.p99", "… p99 latency", "ms"),
               ("ctx.ka.c50.rate", "kept-alive, 50 connections (wrk straight to nginx)", "req/s"),
               ("ctx.ka.c50.p99", "… p99 latency", "ms"),
               ("ctx.ttfb.p50", "time to first byte through the 25 ms delay, plain TCP, no TLS (p50)", "ms")]
    md.append("Context, measured once in the same run without any tunnel (what the loopback, the load generators and "
              "the upstreams alone do on this machine):\n")
    md.append("| load, no tunnel | unit | value |\n|---|---|---|")
    for key, label, unit in context:
        values = data[key].get("direct", [])
        md.append(f"| {label} | {unit} | {fmt(values[0]) if values else 'no number'} |")
    md.append("")

    missed = [r for r in rows if r["ok"] is False]
    md.append("### Targets missed in this run\n")
    if missed:
        for r in missed:
            ratio = "—" if r["ratio"] is None else f"{r['ratio']:.2f}×"
            md.append(f"- {r['group']}: {r['label']}: {ratio} (Tunnel {fmt(r['t_med'])} {r['unit']}, "
                      f"stunnel {fmt(r['s_med'])}), target {r['target']}")
    else:
        md.append("- none")
    md.append("")

    # Details worth having next to the numbers.
    md.append("### Details\n")
    for key in ("cpr.c50.rate", "cpr.c1.rate", "ka.c50.rate"):
        for impl in ("stunnel", "tunnel"):
            ex = extras.get((key, impl), [])
            errs = sum(int(e.get("errors", 0)) for e in ex)
            reqs = sum(int(e.get("requests", 0)) for e in ex)
            if ex:
                md.append(f"- `{key}` {impl}: {reqs:,} requests in all runs, {errs:,} wrk socket errors or non-2xx.")
    for key in ("cpu.bulk.p1.up", "cpu.cpr.c50", "cpu.cpr.c1"):
        shares = []
        for impl in ("stunnel", "tunnel"):
            values = [e["clientShare"] for e in extras.get((key, impl), []) if e.get("clientShare") is not None]
            if values:
                shares.append(f"{impl} {100 * statistics.median(values):.0f} %")
        if shares:
            md.append(f"- `{key}`: client-side process's share of the pair's CPU (median): {', '.join(shares)}.")
    for n in mem_ns:
        for impl in ("stunnel", "tunnel"):
            for e in extras.get((f"mem.{n}.client_kb", impl), []):
                summ = e.get("summary") or {}
                fin = e.get("final") or {}
                rss = e.get("rssKb") or {}
                md.append(
                    f"- idle {n:,}, {impl}: established {summ.get('established', '?')} in "
                    f"{summ.get('establishSeconds', '?')} s (refused {summ.get('refused', '?')}, dropped "
                    f"{summ.get('dropped', '?')}, timed out {summ.get('timedOut', '?')}), alive after hold "
                    f"{fin.get('aliveAfterHold', '?')}; RSS kB client {rss.get('client')}, server {rss.get('server')} "
                    f"(idle, loaded, after close); threads {e.get('threads')}; fds (client idle, loaded, server idle, "
                    f"loaded) {e.get('fds')}")
                break  # the first run is representative; all runs are in raw.jsonl
    md.append(warning_lines(out))
    md.append("")

    md.append("## Method\n")
    md.append("""- Everything on 127.0.0.1. The two pairs are measured **alternately** (stunnel, Tunnel, stunnel, Tunnel...)
  within each run, with the same certificates (a private ECDSA P-256 CA, server and client certificates made with
  `openssl` by `bench/make-certs.sh`), the same upstream and the same load generator. Each pair's processes and
  every upstream run with `ulimit -n 20000`.
- Both pairs: TLS 1.3 only, the client presents its certificate, the server requires it and verifies it against the
  CA; the client verifies the server chain and name. stunnel: `verifyChain = yes`, `requireCert = yes` (server),
  `verifyChain = yes` + `checkHost` (client), `foreground = yes`, `debug = 4` (warnings), stunnel defaults
  otherwise (so its client keeps a TLS session cache and resumes sessions: `sessionResume = yes`). Tunnel:
  `bench/tunnel-client.json` and `bench/tunnel-server.json` (log level warning), flags for addresses and files only.
- Each section starts with a warm-up load on each pair that is not counted (.NET compiles on first use).
- **Bulk**: `iperf3 -s` is the upstream; the iperf3 client connects to the client-side listener. Gbit/s is iperf3's
  receiver figure.
- **New connection per request**: wrk with `Connection: close` through the pair to nginx (1 worker) serving a
  1 KiB file, so every request is a new TCP connection to the client side, a new TLS handshake and a new upstream
  connection. Latency percentiles are wrk's `--latency` figures. A run with more than 1 % socket errors has no number.
- **Kept-alive**: the same without `Connection: close` (nginx `keepalive_requests` raised so it never closes).
- **Idle connections**: `tunnel-bench hold` opens N connections with at most 100 opening at once, sends 16 bytes on
  each and waits for the echo from `tunnel-bench echo` (the upstream), so every tunnel is established end to end;
  it holds them while VmRSS is read from `/proc/PID/status`, then echoes once more on each (dropped during the
  hold = lost) and closes all. Per-connection RSS = (RSS loaded − RSS idle) / established, for each process; the
  idle baseline is taken after a warm-up of 20 connections. "Refused or dropped" counts connections that were
  refused, closed or never answered (stunnel accepts and closes connections over `max_clients` = 125/256 of the fd
  limit). After the close the harness waits (≤ 60 s) until `ss` shows no connection owned by either process,
  waits a few seconds and reads RSS again; "share of the growth still held" = (after − idle) / (loaded − idle) for
  the pair, and the target reading "memory returned after close" as Tunnel ≤ 25 % is this harness's own. Each run
  uses freshly started pairs.
- **Delay**: `tunnel-bench delay` (this kernel has no netem) sits between the client-side and server-side process
  of each pair and delivers each chunk, and the FIN, 25 ms after it arrived, in each direction. Because its own
  accept completes at once, it dials the server, and forwards the client's first bytes, no earlier than 75 ms
  (SYN + SYN-ACK + first data) after the accept, as on a real path. `tunnel-bench ttfb` opens sequential
  connections to the client-side listener, sends `GET /` and times the first response byte (nginx upstream).
- **CPU**: utime + stime of both processes of the pair, read from `/proc/PID/stat` before and after each load run,
  divided by the bytes iperf3 received (per GB = 10⁹ bytes) or by wrk's completed requests (per connection).
- The machine has 2 cores shared by the load generator, the upstream and both processes of the pair, so absolute
  figures are lower bounds of what each pair can do; the ratios are the point. Other work on the machine (see the
  load average above) adds noise that the min–max ranges show.
""")
    md.append("## Exact commands\n")
    md.append("```sh\n" + read_text(os.path.join(out, "commands.txt")).rstrip() + "\n```\n")
    for name, path in [("bench/tunnel-client.json", os.path.join(BENCH, "tunnel-client.json")),
                       ("bench/tunnel-server.json", os.path.join(BENCH, "tunnel-server.json")),
                       ("stunnel client (generated)", os.path.join(out, "conf", "stunnel-client.conf")),
                       ("stunnel server (generated)", os.path.join(out, "conf", "stunnel-server.conf"))]:
        text = read_text(path).rstrip()
        text = text.replace(out, "RESULTS")
        md.append(f"{name}:\n\n```\n{text}\n```\n")
    md.append("![Tunnel/stunnel ratios](benchmarks.png)\n" if meta["mode"] != "smoke" else "![ratios](ratios.png)\n")

    with open(os.path.join(out, "report.md"), "w", encoding="utf-8") as fh:
        fh.write("\n".join(md))

    chart(rows, meta, os.path.join(out, "ratios.png"))

    if missing:
        print("no number for: " + ", ".join(missing), file=sys.stderr)
        return 1
    return 0


def chart(rows, meta, path):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    items = [r for r in rows if r["ratio"] not in (None, float("inf")) and r["ratio"] > 0]
    if not items:
        return
    def label(r):
        parts = r["key"].split(".")
        if parts[0] == "mem":
            return f"idle process: {r['label']}" if parts[1] == "idle" else f"{int(parts[1]):,} idle conns: {r['label']}"
        return f"{r['group'].split(' (')[0].split(':')[0]}: {r['label']}"

    labels = [label(r) for r in items]
    ratios = [r["ratio"] for r in items]
    colors = []
    for r in items:
        better = (r["ratio"] > 1) if r["better"] == "higher" else (r["ratio"] < 1)
        colors.append("#2e7d32" if better else ("#9e9e9e" if abs(r["ratio"] - 1) < 0.02 else "#c62828"))
    fig, ax = plt.subplots(figsize=(10, 0.32 * len(items) + 1.6))
    y = list(range(len(items)))[::-1]
    # Bars grow from 1× (parity) towards the ratio.
    ax.barh(y, [r - 1 for r in ratios], left=1, color=colors, height=0.7)
    ax.set_xscale("log")
    ax.axvline(1.0, color="black", linewidth=0.8)
    for yi, r in zip(y, items):
        t = r["target"]
        if t.startswith(("≥", "≤")) and "Tunnel" not in t:
            x = float(t.split()[1].rstrip("×"))
            ax.plot([x], [yi], marker="|", color="black", markersize=12, markeredgewidth=2)
        ax.text(max(r["ratio"], 1.0), yi, f" {r['ratio']:.2f}×", va="center", fontsize=7)
    ax.set_yticks(y)
    ax.set_yticklabels(labels, fontsize=7)
    ax.set_xlabel("Tunnel / stunnel (log scale). Green: Tunnel better, red: worse. Black tick: target.")
    ax.set_title(f"Tunnel vs stunnel, {meta['stamp']} ({meta['mode']}, median of {meta['runs']} run(s))", fontsize=10)
    lo = min(ratios + [0.1]) / 1.5
    hi = max(ratios + [3.0]) * 1.8
    ax.set_xlim(lo, hi)
    fig.tight_layout()
    fig.savefig(path, dpi=110)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
