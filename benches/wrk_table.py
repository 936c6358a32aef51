"""The table of a wrk_alternating run (benches/common.sh): medians of the rounds, per
connection count, for a peer and Tuilerie, and the ratios against a goal.

Usage: wrk_table.py DIR PEER "PEER LABEL" OURS "OUR LABEL" GOAL_RATIO"""
import re
import statistics
import sys

directory, peer, peer_label, ours, our_label, goal = sys.argv[1:7]
rounds = int(sys.argv[7]) if len(sys.argv) > 7 else 0
connections = sys.argv[8].split() if len(sys.argv) > 8 else ["8", "64"]
UNIT = {"us": 1e-3, "ms": 1.0, "s": 1e3}


def parse(path):
    text = open(path).read()
    rps = float(re.search(r"Requests/sec:\s+([0-9.]+)", text).group(1))
    latency = {}
    for p in ("50%", "99%"):
        m = re.search(r"^\s+" + re.escape(p) + r"\s+([0-9.]+)(us|ms|s)", text, re.M)
        latency[p] = float(m.group(1)) * UNIT[m.group(2)] if m else float("nan")
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", text)
    return rps, latency["50%"], latency["99%"], int(errors.group(1)) if errors else 0


for conns in connections:
    results = {}
    for name in (peer, ours):
        runs = [parse(f"{directory}/wrk_{name}_{conns}_{r}.txt") for r in range(1, rounds + 1)]
        results[name] = [statistics.median(v) for v in zip(*runs)] + [[round(r[0]) for r in runs]]
    print(f"\n{conns} connections")
    print(f"{'':28} {'req/s':>10} {'p50 ms':>8} {'p99 ms':>8} {'non-2xx':>8}   rounds (req/s)")
    for name, label in ((peer, peer_label), (ours, our_label)):
        rps, p50, p99, errors, runs = results[name]
        print(f"{label:28} {rps:10.0f} {p50:8.2f} {p99:8.2f} {errors:8.0f}   {runs}")
    ratio = results[ours][0] / results[peer][0]
    p99_ratio = results[ours][2] / results[peer][2]
    print(f"ratio req/s {ratio:.2f}× (goal ≥ {goal}×), p99 {p99_ratio:.2f}×")
