#!/usr/bin/env python3
"""Turns a bench/run.sh output folder (raw.jsonl, meta.json, commands.txt, conf/, logs/, failures.txt) into
report.md and ratios.png. Three configurations: stunnel, Tunnel (the default, stunnel-compatible wire) and Tunnel mux
(the same pair with "multiplex": true in the client). Exits 1 if any figure has no number for any of the three, or if
the Tunnel mux pair turns out not to have multiplexed.

Usage: report.py RESULTS_DIR
"""
import json
import os
import statistics
import sys
from collections import defaultdict

BENCH = os.path.dirname(os.path.abspath(__file__))
IMPLS = ("stunnel", "tunnel", "tunnel-mux")
TUNNELS = ("tunnel", "tunnel-mux")  # judged against the targets, each as a ratio to stunnel
NAMES = {"stunnel": "stunnel", "tunnel": "Tunnel", "tunnel-mux": "Tunnel mux", "direct": "no tunnel"}
SHORT = {"tunnel": "Tunnel", "tunnel-mux": "mux"}


def figures(mem_ns):
    """(key, group, label, unit, better, target). target: None, ('ratio>=', x), ('ratio<=', x), ('tunnel<=', x);
    'tunnel<=' bounds each Tunnel configuration's own figure."""
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
        ("cpr.c1.p90", g, "1 connection: p90 latency", "ms", "lower", None),
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
    g = "Idle process (after a warm-up of 20 connections and 5 s quiet, before the load)"
    f += [
        ("mem.idle.client_mb", g, "client-side RSS", "MiB", "lower", ("ratio<=", 1.5)),
        ("mem.idle.server_mb", g, "server-side RSS", "MiB", "lower", ("ratio<=", 1.5)),
    ]
    g = "Start-up (exec to the port accepting a TCP connect; certificate commands in a fresh folder)"
    f += [
        ("start.server_ms", g, "server-side process: exec to listening", "ms", "lower", ("tunnel<=", 50)),
        ("start.client_ms", g, "client-side process: exec to listening", "ms", "lower", ("tunnel<=", 50)),
        ("certs.init_ca_ms", g, "create a CA (certs init-ca; openssl genpkey + req -x509)", "ms", "lower", ("tunnel<=", 50)),
        ("certs.issue_ms", g, "issue a server certificate (certs issue server; openssl genpkey + req + x509 -req)", "ms",
         "lower", ("tunnel<=", 50)),
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
    if s is None or t is None or s < 0 or t < 0:  # e.g. RSS after close below the idle baseline: no ratio
        return None
    if s == 0:
        return None if t == 0 else float("inf")
    return t / s


def target_text(target):
    if target is None:
        return ""
    kind, x = target
    if kind == "ratio>=":
        return f"≥ {x:g}×"
    if kind == "ratio<=":
        return f"≤ {x:g}×"
    return "= 0" if x == 0 else f"≤ {x:g}"  # tunnel<=: an absolute bound on the configuration's own figure


def verdict(target, ratio, t_med):
    """True / False = target met / missed; None = no target, or no number to judge."""
    if target is None:
        return None
    kind, x = target
    if kind in ("ratio>=", "ratio<="):
        if ratio is None:
            return None
        return ratio >= x if kind == "ratio>=" else ratio <= x
    return None if t_med is None else t_med <= x


def ratio_text(ratio):
    return "—" if ratio is None else ("∞" if ratio == float("inf") else f"{ratio:.2f}×")


def mark(ok):
    return "" if ok is None else ("✅" if ok else "❌")


def warning_lines(out):
    """Warning-or-worse log events of each pair per section (stunnel LOG0-4, Tunnel WRN/ERR/FTL), from the pairs'
    logs, named IMPL-SECTION[-...]-client.log / -server.log."""
    import glob
    import re
    counts = defaultdict(lambda: [0] * len(IMPLS))
    name_re = re.compile(r"^(stunnel|tunnel-mux|tunnel)-([a-z]+)-.*(client|server)\.log$")
    for path in glob.glob(os.path.join(out, "logs", "*.log")):
        m = name_re.match(os.path.basename(path))
        if not m:
            continue
        impl, section = m.group(1), m.group(2)
        pattern = r"LOG[0-4]\[" if impl == "stunnel" else r"^\S+ (WRN|ERR|FTL) "
        n = sum(1 for line in read_text(path).splitlines() if re.search(pattern, line))
        counts[section][IMPLS.index(impl)] += n
    parts = [f"{section} {'/'.join(map(str, c))}" for section, c in sorted(counts.items()) if any(c)]
    return ("- Warning-or-worse log events, " + "/".join(NAMES[i] for i in IMPLS) + ", per section (see `logs/`): "
            + ", ".join(parts) + "." if parts else "- No warning-or-worse log event from any pair.")


def fds_per_connection(extras, mem_ns, impl):
    """Median descriptors each side gained per established held connection, (client, server), over the memory runs;
    None when there is nothing to go on. Plain: 2 and 2 (each tunneled connection has its own TLS connection);
    multiplexed: 1 and 1 (the accepted connection on the client, the upstream connection on the server)."""
    client, server = [], []
    for n in mem_ns:
        for e in extras.get((f"mem.{n}.client_kb", impl), []):
            est = (e.get("summary") or {}).get("established") or 0
            fds = e.get("fds")
            if est > 0 and isinstance(fds, list) and len(fds) == 4:
                client.append((fds[1] - fds[0]) / est)
                server.append((fds[3] - fds[2]) / est)
    if not client:
        return None
    return statistics.median(client), statistics.median(server)


def read_text(path):
    try:
        with open(path, encoding="utf-8", errors="replace") as fh:
            return fh.read()
    except OSError:
        return ""


def pair_failures(out):
    """failures.txt lines saying a pair did not start ("pair IMPL did not start (TAG): WHY"), per configuration:
    {WHY: [TAG, ...]} in order, WHY with the checkout's path left out."""
    root = os.path.dirname(BENCH) + "/"
    found = defaultdict(dict)
    for line in read_text(os.path.join(out, "failures.txt")).splitlines():
        if line.startswith("pair ") and " did not start (" in line and "): " in line:
            impl = line.split()[1]
            tag, why = line.split(" did not start (", 1)[1].split("): ", 1)
            found[impl].setdefault(why.strip().replace(root, ""), []).append(tag)
    return found


def why_text(whys):
    """One line per distinct reason: `WHY` (in the sections TAG, ...; logs: logs/TAG-*.log)."""
    return [f"`{why}` (in {', '.join(tags)}; see `logs/{tags[0]}-client.log`)" for why, tags in whys.items()]


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
    missing = defaultdict(list)  # impl -> figure keys with no number
    for key, group, label, unit, better, target in figs:
        vals = {impl: data[key].get(impl, []) for impl in IMPLS}
        for impl in IMPLS:
            if not vals[impl]:
                missing[impl].append(key)
        med = {impl: (statistics.median(v) if v else None) for impl, v in vals.items()}
        ratio = {impl: ratio_of(med["stunnel"], med[impl]) for impl in TUNNELS}
        ok = {impl: verdict(target, ratio[impl], med[impl]) for impl in TUNNELS}
        rows.append(dict(key=key, group=group, label=label, unit=unit, better=better, vals=vals, med=med,
                         ratio=ratio, ok=ok, target=target, target_text=target_text(target)))
    nothing = [impl for impl in IMPLS if len(missing[impl]) == len(figs)]
    started = pair_failures(out)
    mux_fds = fds_per_connection(extras, mem_ns, "tunnel-mux")
    mux_not_multiplexed = mux_fds is not None and mux_fds[0] > 1.5
    mux_config = meta.get("mux_client_config", "bench/tunnel-client-mux.json")
    mux_override = bool(meta.get("mux_config_override"))

    md = []
    md.append("# Tunnel vs stunnel: side-by-side benchmark\n")
    md.append(f"Generated by `bench/run.sh --{meta['mode']}` on {meta['stamp']} (UTC), Tunnel commit "
              f"`{meta['tunnel_commit']}`, in {meta.get('elapsed_s', 0) // 60} min. Regenerate with the same command; "
              "the raw numbers of every run are in `bench/results/<timestamp>/raw.jsonl`.\n")
    md.append("Three client+server pairs: **stunnel**; **Tunnel**, the default configuration, whose wire is "
              "stunnel-compatible (`bench/tunnel-client.json`); **Tunnel mux**, the same tunnel-server with the client "
              "multiplexing tunneled connections over a few long-lived TLS connections (`bench/tunnel-client-mux.json`, "
              "opt-in, see Method).\n")
    if mux_override:
        md.append(f"> The Tunnel mux pair ran with `BENCH_MUX_CLIENT_CONFIG={mux_config}`, not "
                  "`bench/tunnel-client-mux.json` (quoted under Exact commands).\n")
    md.append("## Machine\n")
    md.append("| | |\n|---|---|")
    for label, k in [("CPU", "cpu"), ("cores", "cores"), ("memory", "memory"), ("OS", "os"), ("kernel", "kernel"),
                     ("OpenSSL", "openssl"), ("stunnel", "stunnel"), (".NET", "dotnet"), ("nginx", "nginx"),
                     ("iperf3", "iperf3"), ("wrk", "wrk")]:
        md.append(f"| {label} | {meta.get(k, '')} |")
    md.append(f"| Tunnel binaries | `{meta.get('publish', 'scripts/publish.sh')}` |")
    md.append(f"| open-file limit | {meta['fd_limit']} per process (`ulimit -n`), for every process of the run |")
    md.append(f"| load average | {meta.get('load_before', '?')} before, {meta.get('load_after', '?')} after "
              "(1, 5, 15 min; other work on the machine shows here) |")
    for impl, name in (("stunnel", "stunnel server"), ("tunnel", "Tunnel server (both Tunnel pairs)")):
        tls = read_text(os.path.join(out, "logs", f"tls-{impl}.txt"))
        proto = [l.split(":", 1)[1].strip() for l in tls.splitlines() if l.startswith(("Protocol version", "Ciphersuite", "Server Temp Key"))]
        if proto:
            md.append(f"| TLS negotiated, {name} | {', '.join(proto)} |")
    md.append("")

    md.append("## Results\n")
    for impl in nothing:
        why = why_text(started.get(impl, {}))
        reason = (f" Its pair did not start: {why[0]}" if why else
                  " See `failures.txt` and the pair's logs in `logs/`.")
        md.append(f"> **{NAMES[impl]}: no numbers in this run.**{reason}\n")
    if mux_not_multiplexed:
        md.append(f"> **Tunnel mux did not multiplex**: its client took {mux_fds[0]:.2f} descriptors per held "
                  "tunneled connection (1 when multiplexed, 2 when each has its own TLS connection), so its column "
                  "shows a plain Tunnel pair. Check the client's log and the config it ran with.\n")
    md.append(f"Median of **{meta['runs']} run(s)** per figure, (min–max) in brackets; each load run lasts "
              f"{meta['duration_s']} s. Ratios = Tunnel median / stunnel median and Tunnel mux median / stunnel "
              "median. Targets are judged for each Tunnel configuration: ✅ / ❌ = met / not met, blank = no target "
              "or no number; a target without × bounds the configuration's own figure.\n")
    md.append("| figure | unit | stunnel | Tunnel | Tunnel mux | Tunnel/stunnel | mux/stunnel | target | Tunnel | mux |")
    md.append("|---|---|---|---|---|---|---|---|---|---|")
    group = None
    for r in rows:
        if r["group"] != group:
            group = r["group"]
            md.append(f"| **{group}** | | | | | | | | | |")
        v, ra, ok = r["vals"], r["ratio"], r["ok"]
        md.append(f"| {r['label']} | {r['unit']} | {cell(v['stunnel'])} | {cell(v['tunnel'])} | {cell(v['tunnel-mux'])} "
                  f"| {ratio_text(ra['tunnel'])} | {ratio_text(ra['tunnel-mux'])} | {r['target_text']} "
                  f"| {mark(ok['tunnel'])} | {mark(ok['tunnel-mux'])} |")
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

    md.append("### Targets missed in this run\n")
    any_missed = False
    for r in rows:
        for impl in TUNNELS:
            if r["ok"][impl] is not False:
                continue
            any_missed = True
            if r["target"][0] == "tunnel<=":  # an absolute bound: the configuration's own figure first
                md.append(f"- {r['group']}: {r['label']}: **{NAMES[impl]}** {fmt(r['med'][impl])} {r['unit']} "
                          f"(stunnel {fmt(r['med']['stunnel'])}), target {r['target_text']}")
            else:
                md.append(f"- {r['group']}: {r['label']}: **{NAMES[impl]}** {ratio_text(r['ratio'][impl])} "
                          f"({NAMES[impl]} {fmt(r['med'][impl])} {r['unit']}, stunnel {fmt(r['med']['stunnel'])}), "
                          f"target {r['target_text']}")
    if not any_missed:
        md.append("- none")
    md.append("")

    if any(missing.values()):
        md.append("### Figures without a number\n")
        for impl in IMPLS:
            keys = missing[impl]
            if not keys:
                continue
            what = "all figures" if impl in nothing else ", ".join(f"`{k}`" for k in keys)
            md.append(f"- {NAMES[impl]}: {what}.")
            for why in why_text(started.get(impl, {})):
                md.append(f"  - the pair did not start: {why}")
        md.append("- `failures.txt` lists every step without a number; the run exits non-zero.")
        md.append("")

    # Details worth having next to the numbers.
    md.append("### Details\n")
    for key in ("cpr.c50.rate", "cpr.c1.rate", "ka.c50.rate"):
        for impl in IMPLS:
            ex = extras.get((key, impl), [])
            errs = sum(int(e.get("errors", 0)) for e in ex)
            reqs = sum(int(e.get("requests", 0)) for e in ex)
            if ex:
                md.append(f"- `{key}` {NAMES[impl]}: {reqs:,} requests in all runs, {errs:,} wrk socket errors or non-2xx.")
    for key in ("cpu.bulk.p1.up", "cpu.cpr.c50", "cpu.cpr.c1"):
        shares = []
        for impl in IMPLS:
            values = [e["clientShare"] for e in extras.get((key, impl), []) if e.get("clientShare") is not None]
            if values:
                shares.append(f"{NAMES[impl]} {100 * statistics.median(values):.0f} %")
        if shares:
            md.append(f"- `{key}`: client-side process's share of the pair's CPU (median): {', '.join(shares)}.")
    per_conn = [(impl, fds_per_connection(extras, mem_ns, impl)) for impl in IMPLS]
    if any(f for _, f in per_conn):
        md.append("- Descriptors each side gained per held tunneled connection, client/server (median of the idle "
                  "connection runs): " + ", ".join(f"{NAMES[i]} {f[0]:.2f}/{f[1]:.2f}" for i, f in per_conn if f)
                  + ". 2/2 = each tunneled connection has its own TLS connection; 1/1 = multiplexed (the client's "
                  "accepted connection and the server's upstream connection only).")
    else:
        md.append("- Whether Tunnel mux multiplexed was not checked in this run (it is read from the idle "
                  "connection runs' descriptor counts).")
    for n in mem_ns:
        for impl in IMPLS:
            for e in extras.get((f"mem.{n}.client_kb", impl), []):
                summ = e.get("summary") or {}
                fin = e.get("final") or {}
                rss = e.get("rssKb") or {}
                md.append(
                    f"- idle {n:,}, {NAMES[impl]}: established {summ.get('established', '?')} in "
                    f"{summ.get('establishSeconds', '?')} s (refused {summ.get('refused', '?')}, dropped "
                    f"{summ.get('dropped', '?')}, timed out {summ.get('timedOut', '?')}), alive after hold "
                    f"{fin.get('aliveAfterHold', '?')}; RSS kB client {rss.get('client')}, server {rss.get('server')} "
                    f"(idle, loaded, after close); threads {e.get('threads')}; fds (client idle, loaded, server idle, "
                    f"loaded) {e.get('fds')}")
                break  # the first run is representative; all runs are in raw.jsonl
    md.append(warning_lines(out))
    md.append("")

    md.append("## Method\n")
    md.append("""- Everything on 127.0.0.1. The three pairs are measured **alternately** (stunnel, Tunnel, Tunnel mux,
  stunnel, ...) within each run, with the same certificates (a private ECDSA P-256 CA, server and client certificates
  made with `openssl` by `bench/make-certs.sh`), the same upstream and the same load generator. Each pair's processes
  and every upstream run with `ulimit -n 20000`.
- All pairs: TLS 1.3 only, the client presents its certificate, the server requires it and verifies it against the
  CA; the client verifies the server chain and name. stunnel: `verifyChain = yes`, `requireCert = yes` (server),
  `verifyChain = yes` + `checkHost` (client), `foreground = yes`, `debug = 4` (warnings), stunnel defaults
  otherwise (so its client keeps a TLS session cache and resumes sessions: `sessionResume = yes`). Tunnel:
  `bench/tunnel-client.json` and `bench/tunnel-server.json` (log level warning), flags for addresses and files only.
- **Tunnel mux** runs the same tunnel-server binary with the same `bench/tunnel-server.json` (a server needs no
  setting: it multiplexes when a client asks), and the client with `bench/tunnel-client-mux.json`, which is
  `bench/tunnel-client.json` plus `"multiplex": true`. The client then carries every tunneled TCP connection as a
  stream over a few long-lived TLS connections to the server (`multiplexConnections`, 2 by default; one more opens
  beside a connection that carries `multiplexStreams`, 1024 by default). What it saves: the TLS handshake of each new
  tunneled connection, and the per-connection TLS state (and TLS socket) on both sides. Multiplexing is opt-in, not
  the default, because it changes the bytes on the wire: a stunnel server could not understand it, so the default
  Tunnel pair keeps the stunnel-compatible wire, and stunnel peers never see multiplexing.
- Each section starts with a warm-up load on each pair that is not counted (.NET compiles on first use).
- **Bulk**: `iperf3 -s` is the upstream; the iperf3 client connects to the client-side listener. Gbit/s is iperf3's
  receiver figure.
- **New connection per request**: wrk with `Connection: close` through the pair to nginx (1 worker) serving a
  1 KiB file, so every request is a new TCP connection to the client side and a new upstream connection, and (but
  for Tunnel mux, which opens a stream instead) a new TLS handshake. Latency percentiles are wrk's `--latency`
  figures. A run with more than 1 % socket errors has no number.
- **Kept-alive**: the same without `Connection: close` (nginx `keepalive_requests` raised so it never closes).
- **Idle connections**: `tunnel-bench hold` opens N connections with at most 100 opening at once, sends 16 bytes on
  each and waits for the echo from `tunnel-bench echo` (the upstream), so every tunnel is established end to end;
  it holds them while VmRSS is read from `/proc/PID/status`, then echoes once more on each (dropped during the
  hold = lost) and closes all. Per-connection RSS = (RSS loaded − RSS idle) / established, for each process; the
  idle baseline is taken after a warm-up of 20 connections, once each side holds only its standing connections and
  5 s more have passed with no connection opened or closed (Tunnel gives memory back after 2–4 s quiet) (the Tunnel
  client's warm pool, `poolSize`; for Tunnel mux its `multiplexConnections` TLS connections, so under
  load its client holds those plus one accepted connection per tunneled connection and its server those plus one
  upstream connection each). "Refused or dropped" counts connections that were
  refused, closed or never answered (stunnel accepts and closes connections over `max_clients` = 125/256 of the fd
  limit). After the close the harness waits (≤ 60 s) until `ss` shows no connection owned by either process beyond
  its standing ones (for Tunnel mux also the extra TLS connections it opened past `multiplexStreams` streams each,
  which it closes only after 30–60 s idle), waits a few seconds and reads RSS again; "share of the growth still
  held" = (after − idle) / (loaded − idle) for the pair, and the target reading "memory returned after close" as
  Tunnel ≤ 25 % is this harness's own. Each run uses freshly started pairs.
- **Delay**: `tunnel-bench delay` (this kernel has no netem) sits between the client-side and server-side process
  of each pair and delivers each chunk, and the FIN, 25 ms after it arrived, in each direction. Because its own
  accept completes at once, it dials the server, and forwards the client's first bytes, no earlier than 75 ms
  (SYN + SYN-ACK + first data) after the accept, as on a real path. `tunnel-bench ttfb` opens sequential
  connections to the client-side listener, sends `GET /` and times the first response byte (nginx upstream).
- **Start-up**: `bench/startup.py` takes the time just before it execs a process and polls its listening port with
  a TCP connect every 2 ms (15 s deadline); the figure is the time to the first accepted connect. The server-side
  process starts first, then the client-side one (tunnel-client dials its warm pool at start). Each run starts fresh
  processes. Then, in a fresh folder, the certificate commands: for both Tunnel pairs `tunnel-server certs init-ca`
  and `tunnel-server certs issue server NAME --ip 127.0.0.1` (the same binary, measured again in each pair's turn);
  for stunnel, which has no such command, the openssl commands that make the same files (an ECDSA P-256 key and a
  self-signed CA; a key, a CSR and a certificate signed by the CA) in one `sh -c`. Wall clock to exit.
- **CPU**: utime + stime of both processes of the pair, read from `/proc/PID/stat` before and after each load run,
  divided by the bytes iperf3 received (per GB = 10⁹ bytes) or by wrk's completed requests (per connection).
- The machine has 2 cores shared by the load generator, the upstream and both processes of the pair, so absolute
  figures are lower bounds of what each pair can do; the ratios are the point. Other work on the machine (see the
  load average above) adds noise that the min–max ranges show.
""")
    md.append("## Exact commands\n")
    md.append("```sh\n" + read_text(os.path.join(out, "commands.txt")).rstrip() + "\n```\n")
    mux_path = os.path.join(out, "conf", "tunnel-client-mux.json")
    if not os.path.exists(mux_path):
        mux_path = os.path.join(BENCH, "tunnel-client-mux.json")
    mux_name = (f"Tunnel mux client, `BENCH_MUX_CLIENT_CONFIG={mux_config}` (an override)" if mux_override
                else "bench/tunnel-client-mux.json")
    for name, path in [("bench/tunnel-client.json", os.path.join(BENCH, "tunnel-client.json")),
                       (mux_name, mux_path),
                       ("bench/tunnel-server.json (both Tunnel pairs)", os.path.join(BENCH, "tunnel-server.json")),
                       ("stunnel client (generated)", os.path.join(out, "conf", "stunnel-client.conf")),
                       ("stunnel server (generated)", os.path.join(out, "conf", "stunnel-server.conf"))]:
        text = read_text(path).rstrip()
        text = text.replace(out, "RESULTS")
        md.append(f"{name}:\n\n```\n{text}\n```\n")
    md.append("![Tunnel and Tunnel mux to stunnel ratios](benchmarks.png)\n" if meta["mode"] != "smoke"
              else "![ratios](ratios.png)\n")

    with open(os.path.join(out, "report.md"), "w", encoding="utf-8") as fh:
        fh.write("\n".join(md))

    chart(rows, meta, os.path.join(out, "ratios.png"))

    status = 0
    for impl in nothing:
        whys = why_text(started.get(impl, {}))
        print(f"{NAMES[impl]}: no numbers at all" + (f"; its pair did not start: {whys[0]}" if whys else ""),
              file=sys.stderr)
        status = 1
    partial = [f"{k} {impl}" for impl in IMPLS if impl not in nothing for k in missing[impl]]
    if partial:
        print("no number for: " + ", ".join(partial), file=sys.stderr)
        status = 1
    if mux_not_multiplexed:
        print(f"Tunnel mux did not multiplex: {mux_fds[0]:.2f} client descriptors per held connection (1 expected)",
              file=sys.stderr)
        status = 1
    return status


def chart(rows, meta, path):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.patches import Patch

    def usable(x):
        return x is not None and x != float("inf") and x > 0

    items = [r for r in rows if any(usable(r["ratio"][i]) for i in TUNNELS)]
    if not items:
        return
    def label(r):
        parts = r["key"].split(".")
        if parts[0] == "mem":
            return f"idle process: {r['label']}" if parts[1] == "idle" else f"{int(parts[1]):,} idle conns: {r['label']}"
        return f"{r['group'].split(' (')[0].split(':')[0]}: {r['label']}"

    def color(r, x):
        better = (x > 1) if r["better"] == "higher" else (x < 1)
        return "#2e7d32" if better else ("#9e9e9e" if abs(x - 1) < 0.02 else "#c62828")

    fig, ax = plt.subplots(figsize=(10, 0.5 * len(items) + 1.8))
    y = list(range(len(items)))[::-1]
    h = 0.38
    shown = []
    # Two bars per figure, growing from 1× (parity) towards the ratio: Tunnel (solid) above, Tunnel mux (hatched) below.
    for impl, dy, hatch in (("tunnel", h / 2, None), ("tunnel-mux", -h / 2, "////")):
        for yi, r in zip(y, items):
            x = r["ratio"][impl]
            if not usable(x):
                ax.text(1.0, yi + dy, f" {SHORT[impl]}: no number", va="center", fontsize=6, color="#616161")
                continue
            shown.append(x)
            ax.barh(yi + dy, x - 1, left=1, color=color(r, x), height=h, hatch=hatch, edgecolor="white", linewidth=0)
            ax.text(max(x, 1.0), yi + dy, f" {x:.2f}×", va="center", fontsize=6)
    ax.set_xscale("log")
    ax.axvline(1.0, color="black", linewidth=0.8)
    for yi, r in zip(y, items):
        if r["target"] and r["target"][0] in ("ratio>=", "ratio<="):
            ax.plot([r["target"][1]], [yi], marker="|", color="black", markersize=16, markeredgewidth=2)
    ax.set_yticks(y)
    ax.set_yticklabels([label(r) for r in items], fontsize=7)
    ax.set_xlabel("ratio to stunnel (log scale). Green: better than stunnel, red: worse. Black tick: target.")
    ax.legend(handles=[Patch(facecolor="#757575", label="Tunnel / stunnel (default wire)"),
                       Patch(facecolor="#757575", hatch="////", edgecolor="white", label="Tunnel mux / stunnel")],
              fontsize=7, loc="upper center", bbox_to_anchor=(0.5, -0.5 / (0.5 * len(items) + 1.8)), ncol=2,
              frameon=False)
    ax.set_title(f"Tunnel and Tunnel mux vs stunnel, {meta['stamp']} ({meta['mode']}, median of {meta['runs']} run(s))",
                 fontsize=10)
    lo = min(shown + [0.1]) / 1.5
    hi = max(shown + [3.0]) * 1.8
    ax.set_xlim(lo, hi)
    fig.tight_layout()
    fig.savefig(path, dpi=110, bbox_inches="tight")


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
