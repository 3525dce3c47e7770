#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
# The tables of `make bench-loss` (bench/loss.sh) from its run logs: medians per cell, and for
# each loss rate and direction whether synack differs from the kernel with its own congestion
# control by more than the runs' scatter (a two-sided Mann-Whitney rank test). Rewrites the
# section between the bench-loss markers of OUT (docs/performance.md).
#
#   bench/loss_report.py TMP OUT RUNS RUN_TIMEOUT COMMAND REV LOAD SIM_SEEDS SYNACK_CC TUN_OFFLOAD
#
# TMP holds results.jsonl (one JSON line a run), counters.jsonl and sim.jsonl; lines of several
# runs may be concatenated there (bench/loss.sh FROM_LOG_DIR="DIR1 DIR2 ...": pooled rounds).
# Environment: LOW_MAX_LOSS (the cells with LOW_RUNS), PICTURES (where the plot goes). Run from
# the project's root (it calls bench/plot.sh).
import datetime, json, math, os, platform, statistics, sys
tmp, out, runs, limit, command, rev, load_at_start, seeds, synack_cc, tun_offload = sys.argv[1:11]
tun_words = ("a virtio-net header: checksum offload and GSO" if tun_offload == "gso"
             else "a plain TUN, `--no-offload`: one write per segment")
rows = [json.loads(l) for l in open(f"{tmp}/results.jsonl") if l.strip()]
sims = [json.loads(l) for l in open(f"{tmp}/sim.jsonl") if l.strip()]
# Dropped and passed packets per (size, loss), summed over pooled rounds.
counters = {}
for c in map(json.loads, filter(str.strip, open(f"{tmp}/counters.jsonl"))):
    key, got = (c["size"], c["loss"]), [int(x) for x in c["counters"].split()]
    if len(got) == 2:
        before = counters.get(key, [0, 0])
        counters[key] = [before[0] + got[0], before[1] + got[1]]
cpu = next((x.split(":", 1)[1].strip() for x in open("/proc/cpuinfo") if x.startswith("model name")), "?")
load = " ".join(open("/proc/loadavg").read().split()[:3])

def median_cell(times, failures, total, limit=None, progress=()):
    # A failed run is slower than every finished one (it counts as infinitely long): leaving it out
    # would flatter the contender that fails more. A median that falls on one reads "> limit",
    # with how far the failed runs got by then (their median, when the logs have it).
    values = list(times) + [math.inf] * failures
    if not values:
        return "—"
    m = statistics.median(values)
    if not math.isfinite(m):
        text = f"> {limit}" if limit else "—"
    else:  # milliseconds matter below a second (the lossless transfers take 5–15 ms)
        text = f"{m:.3f}" if m < 1 else f"{m:.2f}"
    if failures:
        got = statistics.median(progress) if progress else 0
        text += f" [{failures}/{total} failed" + (f"; {mib(got, 1)} by then" if got else "") + "]"
    return text

def outcome(size, loss, label, direction):
    """The seconds of the runs that finished, and the bytes the others had moved when they
    were stopped (0 where the log does not say: logs before 2026-12-08)."""
    rs = [r for r in rows if (r["size"], r["loss"], r["label"], r["direction"]) == (size, loss, label, direction)]
    ok = [r["seconds"] for r in rs if r["status"] == "ok"]
    return ok, [r.get("bytes") or 0 for r in rs if r["status"] != "ok"]

def cell(size, loss, label, direction):
    ok, failed = outcome(size, loss, label, direction)
    return median_cell(ok, len(failed), len(ok) + len(failed), limit, failed)

def rank_test(xs, ys):
    """Two-sided Mann-Whitney U test of xs against ys (normal approximation with the tie
    correction and a continuity correction). A run is (0, seconds) when it finished and
    (1, -bytes moved) when it did not: every failure ranks behind every finished run, and
    among failures the one that got further ranks first (tied where the logs do not say).
    Returns (share, p): share is the probability that a run of xs ranks before a
    run of ys (ties count half), p the chance of a difference at least this large
    if both came from one distribution."""
    n1, n2 = len(xs), len(ys)
    share = sum(1.0 if x < y else 0.5 if x == y else 0.0 for x in xs for y in ys) / (n1 * n2)
    together = sorted([(x, 0) for x in xs] + [(y, 1) for y in ys], key=lambda v: v[0])
    ranks, ties, i = [0.0] * len(together), 0.0, 0
    while i < len(together):
        j = i
        while j + 1 < len(together) and together[j + 1][0] == together[i][0]:
            j += 1
        for k in range(i, j + 1):
            ranks[k] = (i + j) / 2 + 1
        ties += (j - i + 1) ** 3 - (j - i + 1)
        i = j + 1
    n = n1 + n2
    u = sum(r for r, (_, g) in zip(ranks, together) if g == 0) - n1 * (n1 + 1) / 2
    var = n1 * n2 / 12 * ((n + 1) - ties / (n * (n - 1)))
    if var <= 0:
        return share, 1.0
    z = max(0.0, abs(u - n1 * n2 / 2) - 0.5) / math.sqrt(var)
    return share, min(1.0, 2 * (1 - statistics.NormalDist().cdf(z)))

# The kernel contender with synack's congestion control, the one issue 10 compares against.
same_cc = {"cubic": "kernel-cubic", "bbr": "kernel-bbr"}.get(synack_cc)

def versus(size, loss, direction):
    """synack against the kernel with its congestion control, in one cell: the share of run
    pairs synack finished first, and ahead / behind where the rank test's p is under 0.05."""
    if same_cc is None:
        return "—"
    runs = {}
    for label in ("synack", same_cc):
        ok, failed = outcome(size, loss, label, direction)
        runs[label] = [(0, t) for t in ok] + [(1, -b) for b in failed]
    if len(runs["synack"]) < 2 or len(runs[same_cc]) < 2:
        return "—"
    share, p = rank_test(runs["synack"], runs[same_cc])
    verdict = ("ahead" if share > 0.5 else "behind") if p < 0.05 else "even"
    return f"{share:.2f} {verdict} (p {p:.2g})"

def mib(n, digits=None):
    return f"{n / 1048576:g} MiB" if digits is None else f"{n / 1048576:.{digits}f} MiB"

synack_cc = {"cubic": "CUBIC", "bbr": "BBR", "reno": "NewReno"}[synack_cc]
# How many runs each cell had, from the results themselves (LOW_RUNS at up to LOW_MAX_LOSS).
def cell_runs(losses):
    """The fewest and the most runs a cell had among these losses ("5" or "63–145" in words)."""
    n = {}
    for r in rows:
        if r["loss"] in losses:
            key = (r["size"], r["loss"], r["label"], r["direction"])
            n[key] = n.get(key, 0) + 1
    if not n:
        return ""
    low, high = min(n.values()), max(n.values())
    return f"{low}" if low == high else f"{low}–{high}"
low_max = int(os.environ.get("LOW_MAX_LOSS", "5"))
all_losses = {r["loss"] for r in rows}
low_n = cell_runs({l for l in all_losses if l <= low_max})
high_n = cell_runs({l for l in all_losses if l > low_max})
if low_n and high_n and low_n != high_n:
    runs_words = f"{low_n} runs at up to {low_max} % loss, {high_n} above"
else:
    runs_words = f"{low_n or high_n or runs} runs"
tables = []
for size in dict.fromkeys(r["size"] for r in rows):
    lines = [f"**{mib(size)}**, median seconds of {runs_words} (a run that takes over {limit} s fails and counts as slower than every run that finished):", "",
             f"| loss each way | synack sends ({synack_cc}) | kernel sends (CUBIC) | kernel sends (BBR) | synack receives ({synack_cc} sender) | kernel receives (CUBIC sender) | kernel receives (BBR sender) | synack first, sending | synack first, receiving | dropped / passed |",
             "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for loss in dict.fromkeys(r["loss"] for r in rows if r["size"] == size):
        cells = [cell(size, loss, l, d) for d in ("get", "put") for l in ("synack", "kernel-cubic", "kernel-bbr")]
        dropped = counters.get((size, loss))
        ratio = f"{dropped[0]} / {dropped[1]}" if dropped else ""
        cells += [versus(size, loss, d) for d in ("get", "put")]
        lines.append(f"| {loss} % | " + " | ".join(cells) + f" | {ratio} |")
    tables.append("\n".join(lines))

# The plot: median seconds against loss for the first size, one line per contender and
# direction (a median that failed is left out: the line breaks there).
def median_value(size, loss, label, direction):
    ok, failed = outcome(size, loss, label, direction)
    if not ok and not failed:
        return None
    m = statistics.median(ok + [math.inf] * len(failed))
    return m if math.isfinite(m) else None

figure = ""
# Beside the document written (docs/pictures for docs/performance.md): a run written to a
# copy elsewhere leaves the project's picture alone.
pictures = os.environ.get("PICTURES") or os.path.join(os.path.dirname(os.path.abspath(out)), "pictures")
if rows and out != "-" and os.path.isdir(pictures):
    import subprocess
    size = rows[0]["size"]
    losses = list(dict.fromkeys(r["loss"] for r in rows if r["size"] == size))
    series = [(l, d) for d in ("get", "put") for l in ("synack", "kernel-cubic", "kernel-bbr")
              if any(r["label"] == l and r["direction"] == d for r in rows)]
    names = {"get": "sends", "put": "receives"}
    dat = os.path.join(tmp, "loss.dat")
    with open(dat, "w") as f:
        f.write("x " + " ".join(json.dumps(f"{l} {names[d]}") for l, d in series) + "\n")
        for loss in losses:
            vals = [median_value(size, loss, l, d) for l, d in series]
            f.write(f"{loss} " + " ".join("-" if v is None else repr(v) for v in vals) + "\n")
    svg = "bench-loss.svg"
    title = f"{mib(size)} under loss each way, median of {runs_words}"
    subprocess.run(["bench/plot.sh", os.path.join(pictures, svg), title, "loss each way (%)",
                    "seconds (log scale)", dat], check=True,
                   env=dict(os.environ, XSCALE="linear", YSCALE="log"))
    rel = os.path.relpath(pictures, os.path.dirname(os.path.abspath(out)))
    if os.path.exists(os.path.join(pictures, svg)):
        figure = f"![{title}]({rel}/{svg})\n\n"

sim_tables = []
for size in dict.fromkeys(s["size"] for s in sims):
    rtts = list(dict.fromkeys(s["rtt"] for s in sims if s["size"] == size))
    ccs = list(dict.fromkeys(s.get("cc", "cubic") for s in sims if s["size"] == size))
    cols = [(r, c) for r in rtts for c in ccs]
    lines = [f"**{mib(size)}** in the simulator, median virtual seconds over seeds 1–{seeds} (a failed run counts as slower than every other):", "",
             "| loss each way | " + " | ".join(f"RTT {r:g} ms, {c.upper()}" for r, c in cols) + " |",
             "|---:|" + "---:|" * len(cols)]
    for loss in dict.fromkeys(s["loss"] for s in sims if s["size"] == size):
        cells = []
        for rtt, cc in cols:
            rs = [s for s in sims if (s["size"], s["loss"], s["rtt"], s.get("cc", "cubic")) == (size, loss, rtt, cc)]
            ok = [s["virtual_seconds"] for s in rs if not s.get("hung") and s.get("intact", False)]
            cells.append(median_cell(ok, len(rs) - len(ok), len(rs)))
        lines.append(f"| {loss} % | " + " | ".join(cells) + " |")
    sim_tables.append("\n".join(lines))

begin, end = "<!-- bench-loss:begin (bench/loss.sh) -->", "<!-- bench-loss:end -->"
machine = (f"{os.cpu_count()} CPUs ({cpu}), Linux {platform.release()}, run "
           f"{datetime.date.today().isoformat()}; load average (1, 5, 15 min) {load_at_start} at the start, "
           f"{load} at the end")
body = "\n\n".join(tables)
sim_body = "\n\n".join(sim_tables) if sim_tables else "(not run: SIM=0)"
block = f"""{begin}
## Loss: synack and the Linux kernel side by side

`sudo make bench-loss` (`bench/loss.sh`) builds a client namespace, a router namespace and, behind
the router, synack on its TUN (`synack serve --mtu 1500`, {tun_words}) and a server namespace
where the kernel serves the same bytes (python3 servers, CUBIC on one port and BBR on another,
set with `TCP_CONGESTION`). Each packet is dropped with the given probability in both directions
(nftables `numgen random`; there is no netem on these machines): towards the servers in the
router's forward hook, towards the client at the client's ingress. TSO, GSO and GRO are off on
every veth, so that a super-packet (the kernel's own GSO, always on for Linux TCP, or synack's
through the TUN's virtio-net header) is cut into segments before it reaches the client's drop:
one drop takes one segment for every contender. The client is the same python3 program for all: **sends** is a
download (`GET /bytes/N`, the server sends; time from connect to EOF), **receives** an upload to a
discard server (the client sends, then `shutdown(SHUT_WR)` and waits for the server's FIN). The
contenders are measured round-robin within each loss rate. The path has no added delay (RTT well
under 1 ms), so this measures loss recovery, not window growth.

Machine: {machine}. synack built (Release) from {rev}.

{figure}{body}

*synack first*: the share of pairs (a synack run, a run of the kernel with synack's congestion
control, same cell) in which synack's finished first — of two runs that both failed, the one
that had moved more bytes when it was stopped (ties count half);
**ahead** or **behind** where a two-sided Mann-Whitney rank test puts the chance of so large a
difference between runs drawn from one distribution under 5 % (the p in brackets), **even**
otherwise. A median moves by more than the difference between contenders when a few runs of a
cell pay a 1-s SYN timeout or a 200-ms RTO; the rank test weighs every run.

The simulator (`synack sim bulk --bytes N --loss P --delay RTT/2 --seed S`), the same sizes and
losses both ways at three RTTs, synack against synack (CUBIC and BBR: `--cc`), 256 KiB buffers:

{sim_body}

Command: `sudo make bench-loss`; these tables: `{command}`.
{end}"""
doc = open(out).read() if os.path.exists(out) else "# Performance\n"
if begin in doc and end in doc:
    doc = doc[:doc.index(begin)] + block + doc[doc.index(end) + len(end):]
else:
    doc = doc.rstrip("\n") + "\n\n" + block + "\n"
open(out, "w").write(doc)
print(body)
print(sim_body)
