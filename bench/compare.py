#!/usr/bin/env python3
"""Two builds of openrms side by side, in one run: bench/peers.py on each in
turn (BEFORE, AFTER, BEFORE, AFTER, ...), then per endpoint the median over
the rounds of each build's peak req/s, its share of the RSA bound measured
in the same peers.py run (/rsa, which cancels much of the machine's drift
between runs) and the openrms process's CPU per request, with the ratios
AFTER / BEFORE.

Usage: python3 bench/compare.py BEFORE_BINARY AFTER_BINARY [--rounds N]
                                [peers.py options...]
e.g.   python3 bench/compare.py /tmp/old/build/openrms build/openrms --rounds 3 \\
           --seconds 2 --first-time 8000 \\
           --only "enduserlicenses (first time),publishinglicenses"
A first-time run needs more publishing licenses than it makes requests
(peak req/s times --seconds), or it measures licenses seen before.
Run it on a quiet machine. Talks only to 127.0.0.1, as peers.py does.
"""
import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("before")
    ap.add_argument("after")
    ap.add_argument("--rounds", type=int, default=3)
    args, peers_args = ap.parse_known_args()
    here = os.path.dirname(os.path.abspath(__file__))
    runs = {"before": [], "after": []}
    with tempfile.TemporaryDirectory() as tmp:
        for r in range(args.rounds):
            for name in ("before", "after"):
                out = os.path.join(tmp, f"{name}.{r}.json")
                cmd = [sys.executable, os.path.join(here, "peers.py"), getattr(args, name),
                       "--starts", "1", "--json", out] + peers_args
                print(f"round {r + 1}/{args.rounds}: {name} ({getattr(args, name)})",
                      file=sys.stderr, flush=True)
                done = subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                                      text=True)
                if done.returncode != 0:
                    sys.exit(f"peers.py failed on {getattr(args, name)}:\n{done.stderr}")
                with open(out) as f:
                    runs[name].append(json.load(f))

    def series(name, endpoint, pick):
        values = []
        for run in runs[name]:
            for e in run["endpoints"]:
                if e["endpoint"] == endpoint:
                    values.append(pick(run, e))
        return values

    endpoints = [e["endpoint"] for e in runs["before"][0]["endpoints"]]
    measures = [
        ("peak req/s", lambda run, e: e["peak"]["rps"], True),
        ("/rsa", lambda run, e: e["peak"]["rps"] / run["rsa_before"], True),
        ("cpu us/req", lambda run, e: e["peak"]["cpu_us_per_request"], False),
    ]
    print(f"{args.rounds} rounds, alternating; medians (each round's values in brackets)")
    print(f"before: {args.before}\nafter:  {args.after}\n")
    print(f"{'endpoint':30} {'measure':11} {'before':>9} {'after':>9} {'after/before':>13}")
    for endpoint in endpoints:
        for label, pick, higher_is_better in measures:
            b = series("before", endpoint, pick)
            a = series("after", endpoint, pick)
            mb, ma = statistics.median(b), statistics.median(a)
            fmt = (lambda v: f"{v:.3f}") if label == "/rsa" else (lambda v: f"{v:.0f}")
            print(f"{endpoint:30} {label:11} {fmt(mb):>9} {fmt(ma):>9} {ma / mb:>13.3f}"
                  f"   [{', '.join(fmt(v) for v in b)}] [{', '.join(fmt(v) for v in a)}]")
    for name in ("before", "after"):
        rsa = [run["rsa_before"] for run in runs[name]]
        print(f"\nopenssl speed rsa-2048 private ops/s during {name}: "
              f"{', '.join(f'{v:.0f}' for v in rsa)}", end="")
    print()


if __name__ == "__main__":
    main()
