#!/usr/bin/env python3
"""tests/bench/models_quick.py: `eddy-bench` end to end.

1. Bad options: a clear message naming the problem and exit status 2.
2. The same answer bytes under every model (the Date value aside).
3. A tiny --quick sweep of every workload under every model: exit 0,
   results.json a list of records with the documented fields, every model
   of every workload present with zero errors, results.csv, meta.json,
   report.md and (when gnuplot is here) the plots written.

    models_quick.py PATH/TO/eddy-bench
"""
import csv
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile

BENCH = sys.argv[1]
MODELS = ["threads", "thread-pool", "single-loop", "multi-reactor", "thread-per-core"]
FIELDS = ["workload", "model", "variant", "x_name", "x", "rounds", "throughput", "thr_min",
          "thr_max", "p50_ms", "p90_ms", "p99_ms", "p999_ms", "wall_s", "ideal_s",
          "offered_rate", "cpu_s", "rss_kb", "threads", "vcsw", "ivcsw", "requests", "errors",
          "share", "ok", "note"]
failures = []


def check(cond, what):
    if not cond:
        failures.append(what)
        print("FAIL:", what, flush=True)


def run(args, timeout=60):
    return subprocess.run([BENCH] + args, capture_output=True, text=True, timeout=timeout)


def bad_options():
    cases = [
        (["models", "--bogus"], "unknown option '--bogus'"),
        (["models", "--workload", "disk"], "unknown workload 'disk'"),
        (["models", "--rounds", "0"], "--rounds must be"),
        (["models", "--conns", "10,x"], "--conns must be a list"),
        (["models", "--quick", "--full"], "exclude"),
        (["models", "--out"], "--out needs a value"),
        (["nosuch"], "unknown command 'nosuch'"),
        ([], "usage"),
        (["serve", "--model", "fibers"], "unknown model 'fibers'"),
        (["serve"], "--model is required"),
        (["serve", "--model", "threads", "--port", "70000"], "--port"),
        (["fanout", "--model", "threads"], "url"),
        (["origin", "--port", "x"], "port"),
    ]
    for args, says in cases:
        p = run(args)
        check(p.returncode == 2, f"{args}: exit {p.returncode}, not 2")
        check(says.lower() in p.stderr.lower(), f"{args}: stderr {p.stderr!r} lacks {says!r}")
    p = run(["models", "--help"])
    check(p.returncode == 0 and "--workload" in p.stdout, "models --help")


def raw_get(port, target):
    s = socket.create_connection(("127.0.0.1", port), timeout=10)
    s.sendall(f"GET {target} HTTP/1.1\r\nHost: x\r\n\r\n".encode())
    data = b""
    while b"\r\n\r\n" not in data:
        data += s.recv(4096)
    head, _, body = data.partition(b"\r\n\r\n")
    m = re.search(rb"Content-Length: (\d+)", head)
    n = int(m.group(1)) if m else 0
    while len(body) < n:
        body += s.recv(4096)
    s.close()
    return re.sub(rb"Date: [^\r]*", b"Date: -", head), body


def same_answers():
    seen = {}
    for m in MODELS:
        p = subprocess.Popen([BENCH, "serve", "--model", m, "--port", "0"],
                             stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        line = p.stdout.readline()
        check(line.startswith("ready "), f"serve {m}: {line!r}")
        port = int(line.split()[1])
        got = [raw_get(port, t) for t in ("/", "/work?kib=2&wait_us=100", "/nope",
                                          "/work?kib=x")]
        p.stdin.close()
        rest = p.stdout.read()
        check(p.wait(timeout=30) == 0, f"serve {m}: exit status")
        check("served 4" in rest, f"serve {m}: {rest!r} does not count 4 requests")
        seen[m] = got
    for m in MODELS[1:]:
        check(seen[m] == seen[MODELS[0]], f"{m} answers differently from threads: "
              f"{seen[m]!r} vs {seen[MODELS[0]]!r}")
    check(seen["threads"][0][1] == b"Hello, World!", "the plaintext body")
    check(b" 404 " in seen["threads"][2][0] and b" 400 " in seen["threads"][3][0],
          "404 and 400 statuses")


def tiny_sweep():
    out = tempfile.mkdtemp(prefix="eddy-models-")
    try:
        args = ["models", "--quick", "--out", out, "--duration-ms", "300", "--warmup-ms", "100",
                "--conns", "4,8", "--conns-p16", "4", "--conns-open", "4", "--rate", "400",
                "--mixed-conns", "4", "--cpu-us", "20", "--wait-us", "200", "--mixed-load", "5",
                "--c", "5,10", "--delay-ms", "5", "--per-c", "4", "--min-n", "20"]
        p = run(args, timeout=240)
        sys.stdout.write(p.stdout[-3000:])
        check(p.returncode == 0, f"tiny sweep exit {p.returncode}: {p.stderr[-2000:]}")
        recs = json.load(open(os.path.join(out, "results.json")))
        check(isinstance(recs, list) and recs, "results.json is a non-empty list")
        for r in recs:
            missing = [f for f in FIELDS if f not in r]
            check(not missing, f"record lacks {missing}")
        want = {("fanout", "d5ms"): [5, 10], ("server", "closed"): [4, 8],
                ("server", "closed-p16"): [4], ("server", "open"): [4],
                ("mixed", "uniform"): [4], ("mixed", "skewed"): [4],
                ("mixed", "skewed-open"): [4]}
        for (wl, var), xs in want.items():
            for m in MODELS:
                for x in xs:
                    got = [r for r in recs if r["workload"] == wl and r["variant"] == var
                           and r["model"] == m and r["x"] == x]
                    check(len(got) == 1, f"{wl} {var} {m} x={x}: {len(got)} records")
                    if got:
                        r = got[0]
                        check(r["ok"] is True, f"{wl} {var} {m} x={x} not ok: {r['note']}")
                        check(r["errors"] == 0, f"{wl} {var} {m} x={x}: {r['errors']} errors")
                        check(r["requests"] > 0 and r["throughput"] > 0,
                              f"{wl} {var} {m} x={x}: no requests")
                        check(r["p99_ms"] >= r["p50_ms"] > 0, f"{wl} {var} {m} x={x}: latency")
                        check(r["rss_kb"] > 0 and r["threads"] > 0,
                              f"{wl} {var} {m} x={x}: rss/threads")
                        if m in ("multi-reactor", "thread-per-core"):
                            check(len(r["share"].split()) >= 1, f"{wl} {m}: share {r['share']!r}")
                        if wl == "fanout":
                            check(r["requests"] == max(4 * x, 20), f"fanout {m} c={x}: requests")
                            check(r["wall_s"] >= r["ideal_s"] * 0.95,
                                  f"fanout {m} c={x}: faster than ideal?")
        rows = list(csv.reader(open(os.path.join(out, "results.csv"))))
        check(rows and rows[0][:len(FIELDS)] == FIELDS, f"results.csv header {rows[:1]}")
        check(len(rows) == len(recs) + 1, "results.csv has a line per record")
        meta = json.load(open(os.path.join(out, "meta.json")))
        check(meta.get("mode") == "quick" and "--out" in (meta.get("command") or ""),
              f"meta.json {meta}")
        report = open(os.path.join(out, "report.md")).read()
        check("Targets" in report or "targets" in report, "report.md has the targets")
        if shutil.which("gnuplot"):
            for wl, var in want:
                for kind in ("throughput", "p99"):
                    for ext in ("svg", "png"):
                        f = os.path.join(out, f"{wl}-{var}-{kind}.{ext}")
                        check(os.path.exists(f) and os.path.getsize(f) > 0, f"plot {f}")
            check(".svg" in report, "report.md embeds the plots")
        else:
            print("gnuplot not found (apt-get install gnuplot-nox): plots not checked")
            check("gnuplot" in report, "report.md says why there are no plots")
        # a directory that cannot be made: a clear error, exit 1
        p = run(["models", "--workload", "server", "--conns", "2", "--conns-p16", "2",
                 "--conns-open", "2", "--models", "single-loop", "--duration-ms", "100",
                 "--warmup-ms", "0", "--out", "/proc/eddy-no/such"], timeout=60)
        check(p.returncode == 1 and "cannot" in p.stderr, f"unwritable --out: {p.returncode} "
              f"{p.stderr[-300:]!r}")
    finally:
        shutil.rmtree(out, ignore_errors=True)


bad_options()
same_answers()
tiny_sweep()
if failures:
    print(f"{len(failures)} check(s) failed")
    sys.exit(1)
print("all checks passed")
