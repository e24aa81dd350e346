#!/usr/bin/env python3
"""The origin's load with many LL-HLS viewers, direct and behind Varnish, for
scripts/bench-scale.sh (which documents the environment it reads).

One relay (LIGHT ladder, LL-HLS on) and one Varnish node with the shipped
configuration (tests/integration/cache_nodes.py). For each case (direct or
varnish, each viewer count) the load client (--load-client: bench/llhls_load.cpp)
runs in --procs processes at nice --load-nice (0, as the servers), each
with its share of the viewers; a further process (tests/integration/llhls_load.py)
at nice -5 runs --probes players through the same tier and one reference player per rendition on the relay itself, whose part arrival times
are the baseline for latency (so the load generator's own backlog, when it
cannot keep up, is not counted as the tier's latency). Measured over the steady window (after the ramp):
  - the relay's CPU (utime+stime from /proc) minus its idle CPU (encoding the
    ladder with no viewer, measured first), as % of one core;
  - the relay's responses/s (its own seminar_relay_http_requests_total, which
    includes the reference players' few) and, behind Varnish, the fetches
    Varnish's backend log (varnishncsa -b) shows;
  - per probe part, arrival at the probe minus arrival at a reference player
    (p50/p99): the latency the tier adds;
  - the viewers' requests/s (over the run) and parts/s (in the steady window:
    what the load client achieved; each viewer is due 2 parts/s with 0.5 s
    parts), and the players that ended more than a segment behind.
Prints a table and one JSON line.
"""
import argparse
import json
import os
import re
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "tests", "integration"))

from cache_nodes import VarnishNode  # noqa: E402
from relay_harness import LIGHT, Relay, raise_fd_limit  # noqa: E402

CLK_TCK = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid):
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLK_TCK


def responses(relay):
    text = relay.get("/metrics").decode()
    return sum(float(m) for m in re.findall(r"^seminar_relay_http_requests_total\{[^}]*\} (\S+)$", text, re.M))


def percentile(values, p):
    s = sorted(values)
    return s[min(len(s) - 1, int(p / 100 * len(s)))] if s else None


def client(base, clients, a, cpus, nice, reference=None, latency_out=None):
    """The load (--load-client, bench/llhls_load.cpp) or, with `reference`, the
    latency probes (tests/integration/llhls_load.py, which records per part its
    arrival at a probe and at a reference player on the relay)."""
    args = ["--base", base, "--clients", str(clients), "--seconds", str(a.ramp + a.seconds + 2), "--ramp", str(a.ramp)]
    if reference:
        cmd = [sys.executable, os.path.join(HERE, "..", "tests", "integration", "llhls_load.py")] + args
        cmd += ["--reference", reference, "--latency-out", latency_out]
    else:
        cmd = [a.load_client] + args
    cmd = ["nice", "-n", str(nice)] + cmd
    if cpus:
        cmd = ["taskset", "-c", cpus] + cmd
    return subprocess.Popen(cmd, stdout=subprocess.PIPE, text=True)


def run_case(relay, base, viewers, a, client_cpus, varnish=None):
    """The load: `viewers` players in --procs processes. The latency: a few
    probe players through the same tier, and reference players on the relay, in
    one process of their own at a higher priority, so the load generator's own
    backlog is not counted as the tier's latency."""
    per = [viewers // a.procs + (1 if i < viewers % a.procs else 0) for i in range(a.procs)]
    load = [client(base, n, a, client_cpus, a.load_nice) for n in per]
    out = tempfile.NamedTemporaryFile(prefix="scale-", suffix=".json", delete=False).name
    probe = client(base, a.probes, a, client_cpus, -5, f"http://127.0.0.1:{relay.port}", out)
    time.sleep(a.ramp + 1)
    fetched = (lambda: len(varnish.origin_requests())) if varnish else (lambda: 0)
    cpu0, req0, fetch0, t0 = cpu_seconds(relay.proc.pid), responses(relay), fetched(), time.monotonic()
    time.sleep(a.seconds)
    cpu1, req1, fetch1, t1 = cpu_seconds(relay.proc.pid), responses(relay), fetched(), time.monotonic()
    summaries = [json.loads(p.communicate()[0].strip().splitlines()[-1]) for p in load]
    probe_summary = json.loads(probe.communicate()[0].strip().splitlines()[-1])
    with open(out) as f:
        added = json.load(f)
    os.unlink(out)
    run_s = a.ramp + a.seconds + 2
    viewer_rps = (sum(s["requests"] for s in summaries) + probe_summary["requests"]) / run_s
    return {
        "cpu_pct": 100 * (cpu1 - cpu0) / (t1 - t0),
        # The relay's responses/s over the steady window (its own
        # seminar_relay_http_requests_total; the reference players' few included).
        "rps": (req1 - req0) / (t1 - t0),
        # Behind Varnish, what Varnish's backend log says it asked the relay.
        "varnish_fetch_rps": (fetch1 - fetch0) / (t1 - t0) if varnish else None,
        "p50_ms": None if not added else 1000 * percentile(added, 50),
        "p99_ms": None if not added else 1000 * percentile(added, 99),
        "viewer_rps": viewer_rps,
        # Parts the viewers got per second in the steady window (after the ramp).
        "viewer_parts_per_s": sum(s["steady_parts_per_s"] for s in summaries),
        "players_failed": sum(s["players_failed"] for s in summaries),
        # Players more than one segment behind their rendition's newest part at the end.
        "players_behind": sum(s["players_behind"] for s in summaries),
        "failure_kinds": [s["failure_kinds"] for s in summaries if s["failure_kinds"]],
        "probes_failed": probe_summary["players_failed"],
    }


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--binary", required=True)
    p.add_argument("--source-dir", required=True)
    p.add_argument("--viewers", default="1000 3000")
    p.add_argument("--seconds", type=float, default=20)
    p.add_argument("--ramp", type=float, default=5)
    p.add_argument("--load-client", required=True, help="the llhls-load binary (bench/llhls_load.cpp)")
    p.add_argument("--procs", type=int, default=2)
    p.add_argument("--probes", type=int, default=6, help="latency probe players per case")
    p.add_argument("--load-nice", type=int, default=0, help="nice of the load processes (the servers run at 0)")
    p.add_argument("--server-cpus", default="", help="taskset list for the relay and Varnish")
    p.add_argument("--client-cpus", default="", help="taskset list for the load client")
    a = p.parse_args()
    raise_fd_limit(65536)
    viewers = [int(v) for v in a.viewers.split()]
    # Direct, every viewer comes from 127.0.0.1: lift the per-address cap (a
    # cache node in edge.trusted_proxies is exempt from it the same way).
    limits = ["edge.max_connections=200000", "edge.max_connections_per_ip=200000"]
    with Relay(a.binary, a.source_dir, LIGHT + limits) as relay:
        relay.wait_for_segments("360p", 3)
        if a.server_cpus:
            subprocess.run(["taskset", "-a", "-p", "-c", a.server_cpus, str(relay.proc.pid)],
                           check=True, stdout=subprocess.DEVNULL)
        cpu0, t0 = cpu_seconds(relay.proc.pid), time.monotonic()
        time.sleep(5)
        idle_pct = 100 * (cpu_seconds(relay.proc.pid) - cpu0) / (time.monotonic() - t0)
        print(f"relay idle (encoding, no viewer): {idle_pct:.1f} % of a core", flush=True)
        with VarnishNode(relay.port, a.source_dir) as varnish:
            if a.server_cpus:
                for proc in varnish.procs:
                    subprocess.run(["taskset", "-a", "-p", "-c", a.server_cpus, str(proc.pid)],
                                   check=True, stdout=subprocess.DEVNULL)
            results = {}
            for tier, base in (("direct", f"http://127.0.0.1:{relay.port}"), ("varnish", varnish.base)):
                for n in viewers:
                    r = run_case(relay, base, n, a, a.client_cpus, varnish if tier == "varnish" else None)
                    r["serving_cpu_pct"] = r["cpu_pct"] - idle_pct
                    results[f"{tier} {n}"] = r
                    print(f"{tier:8} {n:5} viewers: relay CPU {r['cpu_pct']:6.1f} % (serving {r['serving_cpu_pct']:6.1f} %), "
                          f"relay {r['rps']:7.1f} responses/s"
                          + (f" (Varnish fetched {r['varnish_fetch_rps']:.1f}/s)" if r["varnish_fetch_rps"] is not None else "")
                          + f", viewers {r['viewer_rps']:7.1f} requests/s over the run "
                          f"(steady: {r['viewer_parts_per_s']:.0f} parts/s of {2 * n} due, "
                          f"{r['players_behind']} players behind), "
                          f"added p50 {r['p50_ms']:.0f} ms p99 {r['p99_ms']:.0f} ms, players failed "
                          f"{r['players_failed']} (probes {r['probes_failed']})", flush=True)
                    if r["failure_kinds"]:
                        print(f"         what the failed players saw first: {r['failure_kinds']}", flush=True)
            stats = varnish.counters()
    lo, hi = min(viewers), max(viewers)
    v_lo, v_hi = results[f"varnish {lo}"], results[f"varnish {hi}"]
    ratio_rps = v_hi["rps"] / v_lo["rps"] if v_lo["rps"] else float("inf")
    ratio_cpu = v_hi["serving_cpu_pct"] / v_lo["serving_cpu_pct"] if v_lo["serving_cpu_pct"] > 0 else float("nan")
    added_p50 = v_hi["p50_ms"] - results[f"direct {lo}"]["p50_ms"] if results[f"direct {lo}"]["p50_ms"] is not None else None
    print(f"behind Varnish, origin load {hi}/{lo} viewers: responses/s x{ratio_rps:.2f}, serving CPU x{ratio_cpu:.2f} "
          f"(target within 10 %: {'met' if abs(ratio_rps - 1) <= 0.1 else 'NOT met'} for responses/s)")
    print(f"latency Varnish adds at {hi} viewers: p50 {v_hi['p50_ms']:.0f} ms, p99 {v_hi['p99_ms']:.0f} ms "
          f"(target p50 <= 100 ms: {'met' if v_hi['p50_ms'] <= 100 else 'NOT met'})")
    print(f"varnishstat: {stats}")
    print(json.dumps({"idle_cpu_pct": idle_pct, "cases": results, "ratio_rps": ratio_rps, "ratio_cpu": ratio_cpu,
                      "varnish_added_p50_ms": v_hi["p50_ms"], "varnishstat": stats, "added_p50_vs_direct_ms": added_p50}))


if __name__ == "__main__":
    main()
