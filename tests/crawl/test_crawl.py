#!/usr/bin/env python3
"""eddy-crawl end to end, against the local origin (tests/http/origin.py).

  test_crawl.py EDDY_CRAWL ORIGIN_PY [TEST_NAME...]

Each test runs the real binary as a user would and reads its JSON lines
with json.loads (every line must parse), and what the origin saw (request
counts, times, connections). Loopback only; every run is bounded by a
timeout. EDDY_IO_BACKEND in the environment picks the reactor backend.
"""
import collections
import json
import os
import signal
import subprocess
import sys
import time
import urllib.request

from crawl_testlib import CRAWL, SITE_PAGES, TRANSIT_SLACK, check, lines, run, run_tests  # noqa: F401


# ------------------------------------------------------------------ tests

def test_visits_exactly_the_reachable_pages(o, tmp):
    out = os.path.join(tmp, "out.jsonl")
    r = run(["-q", "--delay-ms", "0", "--per-host", "4", "-c", "8", "--retry-base-ms", "50",
             "-o", out, o.base + "/site/p/0"])
    check(r.returncode == 0, "exit %d: %s" % (r.returncode, r.stderr))
    rows = lines(out)
    urls = [x["url"] for x in rows]
    dups = [u for u, n in collections.Counter(urls).items() if n > 1]
    check(not dups, "fetched twice: %s" % dups)
    by = {x["url"][len(o.base):]: x for x in rows}
    pages = {x["final_url"][len(o.base):] for x in rows if x["status"] == 200}
    want = {"/site/p/%d" % i for i in range(SITE_PAGES)}
    check(want <= pages, "pages never reached: %s" % sorted(want - pages))
    # every <base>-relative link resolved (no /p/N outside /site)
    check(not [u for u in by if u.startswith("/p/")], "a <base> was ignored")
    check(by["/site/private/1"]["error"] == "blocked by robots.txt", "robots.txt not obeyed")
    check(by["/site/loop"]["error"] == "redirect loop", "redirect loop: %s" % by["/site/loop"])
    check(by["/site/missing"]["status"] == 404 and by["/site/missing"]["error"] is None, "404")
    check(by["/site/gzip"]["status"] == 200 and
          by["/site/gzip"]["bytes_wire"] < by["/site/gzip"]["bytes_body"], "gzip decoded")
    check(by["/site/chunked"]["status"] == 200, "chunked page")
    for u in by:
        check("other.invalid" not in u and "mailto" not in u and "javascript" not in u,
              "followed a link it must not: " + u)
    # a redirect to a page crawled on its own is recorded, not fetched again
    redirected = [x for x in rows if x["url"] != x["final_url"]]
    check(redirected and all(x["final_url"].startswith(o.base + "/site/p/") or
                             x["error"] == "redirect loop" for x in redirected), "redirects")
    st = o.stats()
    check(st["paths"].get("/site/private/1", 0) == 0, "fetched a disallowed page")
    check(st["paths"].get("/robots.txt") == 1, "robots.txt fetched %s times"
          % st["paths"].get("/robots.txt"))
    first = o.log()[0][1]
    check(first == "/robots.txt", "first request was %s, not robots.txt" % first)
    for p in want:
        check(st["paths"].get(p, 0) == 1, "%s fetched %s times" % (p, st["paths"].get(p)))
    # depth and parent: the seed is depth 0 without a parent
    check(by["/site/p/0"]["depth"] == 0 and by["/site/p/0"]["parent"] is None, "seed row")
    check(all(x["depth"] >= 1 and x["parent"] for x in rows if x["url"] != o.base + "/site/p/0"),
          "depth/parent of found URLs")


def test_retries_what_it_should_and_no_more(o, tmp):
    out = os.path.join(tmp, "out.jsonl")
    t0 = time.monotonic()
    r = run(["-q", "--delay-ms", "0", "--retry-base-ms", "100", "--retries", "2",
             "--max-depth", "1", "-o", out, o.base + "/site/p/0"])
    check(r.returncode == 0, "exit %d: %s" % (r.returncode, r.stderr))
    rows = {x["url"][len(o.base):]: x for x in lines(out)}
    st = o.stats()["paths"]
    check(st["/site/flaky"] == 3 and rows["/site/flaky"]["status"] == 200 and
          rows["/site/flaky"]["retries"] == 2, "503, 503, 200: %s" % rows["/site/flaky"])
    check(st["/site/500"] == 3 and rows["/site/500"]["retries"] == 2, "500 retried twice")
    # curl itself sends a request again (up to 5 times) when the kept-alive
    # connection it used died before any answer: our 3 attempts are at
    # least 3 on the wire
    check(st["/site/reset"] >= 3 and rows["/site/reset"]["retries"] == 2 and
          rows["/site/reset"]["error"].startswith("Connection reset"),
          "reset retried twice: %s, %d requests" % (rows["/site/reset"], st["/site/reset"]))
    check(st["/site/missing"] == 1, "a 404 is not retried")
    check(st["/site/ratelimited"] == 2 and rows["/site/ratelimited"]["retries"] == 1, "429")
    log = o.log()
    rl = [t for t, p in log if p == "/site/ratelimited"]
    check(rl[1] - rl[0] >= 0.95, "Retry-After: 1 not honoured (%.2f s)" % (rl[1] - rl[0]))
    fl = [t for t, p in log if p == "/site/flaky"]
    check(len(fl) == 3, "flaky attempts")
    check(time.monotonic() - t0 < 30, "too slow")


def test_per_host_limit_and_delay_hold_at_the_origin(o, tmp):
    out = os.path.join(tmp, "out.jsonl")
    r = run(["-q", "--no-robots", "--per-host", "2", "-c", "16", "--delay-ms", "0",
             "--max-pages", "40", "-o", out, o.base + "/site/p/0"])
    check(r.returncode == 0, r.stderr)
    st = o.stats()
    check(st["inflight_max"] <= 2, "in flight at once: %d" % st["inflight_max"])
    check(st["conns_max"] <= 2, "connections at once: %d" % st["conns_max"])
    check(len(lines(out)) == 40, "--max-pages 40 gave %d lines" % len(lines(out)))
    # the delay: starts spaced by at least delay x 0.5
    o.reset()
    r = run(["-q", "--no-robots", "--per-host", "1", "-c", "4", "--delay-ms", "100",
             "--max-pages", "8", "-o", out, o.base + "/site/p/0"])
    check(r.returncode == 0, r.stderr)
    starts = sorted(t for t, _ in o.log())  # 8 pages, their redirect hops and retries
    gaps = [b - a for a, b in zip(starts, starts[1:])]
    # the crawler spaces its starts by >= 50 ms; the origin sees arrivals,
    # which a new connection's handshake delays more than a kept one's:
    # TRANSIT_SLACK allows for that
    check(len(starts) >= 8 and min(gaps) >= 0.05 - TRANSIT_SLACK,
          "gaps %s" % ["%.3f" % g for g in gaps])


def test_crawl_delay_of_robots_txt_is_honoured(o, tmp):
    o.reset("User-agent: eddy-crawl\nCrawl-delay: 0.3\nDisallow: /site/500\n\n"
            "User-agent: *\nDisallow: /\n")
    out = os.path.join(tmp, "out.jsonl")
    r = run(["-q", "--per-host", "1", "--delay-ms", "0", "--max-pages", "4", "-o", out,
             o.base + "/site/p/0"])
    check(r.returncode == 0, r.stderr)
    starts = [t for t, p in o.log() if p != "/robots.txt"]  # pages and redirect hops
    gaps = [b - a for a, b in zip(starts, starts[1:])]
    check(len(starts) >= 4 and min(gaps) >= 0.15 - TRANSIT_SLACK, "Crawl-delay 0.3: gaps %s" % gaps)
    check(o.stats()["paths"].get("/site/500", 0) == 0, "our group's Disallow")


def test_max_depth_and_deep_nesting(o, tmp):
    out = os.path.join(tmp, "out.jsonl")
    r = run(["-q", "--no-robots", "--delay-ms", "0", "--max-depth", "1", "-o", out,
             o.base + "/site/deep?n=1000"])
    check(r.returncode == 0, r.stderr)
    rows = lines(out)
    check(max(x["depth"] for x in rows) == 1, "depth")
    got = {x["url"][len(o.base):] for x in rows if x["depth"] == 1}
    check(got == {"/site/p/%d" % i for i in range(5)}, "links 1,000 levels deep: %s" % got)


def test_resumes_after_kill_9(o, tmp):
    out = os.path.join(tmp, "out.jsonl")
    state = os.path.join(tmp, "state")
    args = ["-q", "--no-robots", "--per-host", "2", "-c", "4", "--delay-ms", "15",
            "--state", state, "-o", out, o.base + "/site/p/0"]
    p = subprocess.Popen([CRAWL] + args, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:  # about a third of the crawl
        if os.path.exists(out) and sum(1 for _ in open(out)) >= 40:
            break
        time.sleep(0.02)
    p.send_signal(signal.SIGKILL)
    p.wait()
    first = lines(out)
    check(0 < len(first), "nothing written before the kill")
    r = run(args, timeout=120)
    check(r.returncode == 0, "restart: %d %s" % (r.returncode, r.stderr))
    rows = lines(out)
    urls = [x["url"] for x in rows]
    dups = [u for u, n in collections.Counter(urls).items() if n > 1]
    check(not dups, "fetched twice across the restart: %s" % dups)
    # finished ones were not fetched again: every page at most twice in all
    # (once in each run only if it was under way at the kill). Counted
    # before the fresh crawl below, which fetches every page once more.
    o_counts = o.stats()["paths"]
    twice = [p for p, n in o_counts.items() if p.startswith("/site/p/") and n > 2]
    check(not twice, "fetched more than twice: %s" % twice)
    fresh = os.path.join(tmp, "fresh.jsonl")
    r = run(["-q", "--no-robots", "--per-host", "4", "--delay-ms", "0", "-o", fresh,
             o.base + "/site/p/0"])
    # which URL of a redirect chain gets the line depends on timing (a page
    # reached first by a redirect is the chain's final_url, else its own
    # url): compare all the URLs the lines name
    def named(rows):
        return {x["url"] for x in rows} | {x["final_url"] for x in rows}
    lost = named(lines(fresh)) - named(rows)
    check(not lost, "lost across the restart: %s" % sorted(lost))
    # and the same crawl-id check: other seeds are refused
    r = run(["-q", "--state", state, "-o", out, o.base + "/site/p/1"])
    check(r.returncode == 6 and r.stderr.count("\n") == 1, "other seeds with the same --state")


def test_ctrl_c_drains_then_aborts(o, tmp):
    out = os.path.join(tmp, "out.jsonl")
    args = ["--no-robots", "--per-host", "2", "-c", "4", "--delay-ms", "200", "-o", out,
            o.base + "/site/p/0"]
    p = subprocess.Popen([CRAWL] + args, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    time.sleep(1.0)
    t0 = time.monotonic()
    p.send_signal(signal.SIGINT)
    rc = p.wait(timeout=30)
    check(rc == 130, "first Ctrl-C: exit %d" % rc)
    check(time.monotonic() - t0 < 5, "drain took too long")
    n = len(lines(out))
    check(0 < n < SITE_PAGES, "lines after a drain: %d" % n)
    # twice: in-flight fetches of slow pages are aborted at once
    out2 = os.path.join(tmp, "out2.jsonl")
    p = subprocess.Popen([CRAWL, "-q", "--no-robots", "--delay-ms", "0", "--timeout-ms",
                          "20000", "-o", out2, o.base + "/delay?ms=4000"],
                         stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    time.sleep(0.5)
    t0 = time.monotonic()
    p.send_signal(signal.SIGINT)
    time.sleep(0.2)
    p.send_signal(signal.SIGINT)
    rc = p.wait(timeout=10)
    check(rc == 130 and time.monotonic() - t0 < 3, "second Ctrl-C: exit %d" % rc)
    rows = lines(out2)
    check(len(rows) == 1 and rows[0]["error"] == "aborted", "aborted line: %s" % rows)


def test_output_is_written_as_it_goes(o, tmp):
    out = os.path.join(tmp, "out.jsonl")
    p = subprocess.Popen([CRAWL, "-q", "--no-robots", "--per-host", "1", "--delay-ms", "50",
                          "--max-pages", "30", "-o", out, o.base + "/site/p/0"])
    seen_early = 0
    while p.poll() is None:
        if os.path.exists(out):
            seen_early = max(seen_early, len(lines(out)))
        if seen_early >= 5:
            break
        time.sleep(0.02)
    check(seen_early >= 5 and p.poll() is None, "lines appear while it runs")
    check(p.wait(timeout=60) == 0, "exit")


def test_progress_line_on_a_terminal_and_summary(o, tmp):
    import pty
    import select
    out = os.path.join(tmp, "out.jsonl")
    try:
        master, slave = pty.openpty()
    except OSError as e:  # no pseudo-terminals here: the other checks still run
        print("  (no pty: %s; the terminal part is skipped)" % e)
        master = slave = None
    if master is None:
        r = run(["--no-robots", "--delay-ms", "0", "--max-pages", "5", "-o", out,
                 o.base + "/site/p/0"])
        check("\r" not in r.stderr and "5 pages in" in r.stderr, "stderr %r" % r.stderr)
        return
    p = subprocess.Popen([CRAWL, "--no-robots", "--per-host", "2", "--delay-ms", "30",
                          "--max-pages", "25", "-o", out, o.base + "/site/p/0"],
                         stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=slave)
    os.close(slave)
    text = b""
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        r, _, _ = select.select([master], [], [], 0.2)
        if r:
            try:
                chunk = os.read(master, 4096)
            except OSError:
                break
            if not chunk:
                break
            text += chunk
        elif p.poll() is not None:
            break
    p.wait(timeout=30)
    os.close(master)
    s = text.decode(errors="replace")
    check(p.returncode == 0, "exit %s" % p.returncode)
    check("\r" in s and "in flight" in s and "queued" in s and "errors" in s,
          "no progress line on a terminal: %r" % s[:300])
    check("25 pages in" in s and "status 2xx" in s and "p95" in s, "summary: %r" % s[-400:])
    # not a terminal: no progress line, the summary only; --quiet: nothing
    r = run(["--no-robots", "--delay-ms", "0", "--max-pages", "5", "-o", out, o.base + "/site/p/0"])
    check("\r" not in r.stderr and "5 pages in" in r.stderr, "stderr %r" % r.stderr)
    r = run(["-q", "--no-robots", "--delay-ms", "0", "--max-pages", "5", "-o", out,
             o.base + "/site/p/0"])
    check(r.stderr == "", "--quiet: %r" % r.stderr)


def test_bad_input_gets_one_line_and_its_exit_code(o, tmp):
    cases = [
        (["--bogus", o.base], 2), (["--per-host", "0", o.base], 2), ([], 2),
        (["--concurrency", "x", o.base], 2), (["ftp://127.0.0.1/"], 3), (["not a url"], 3),
        (["http://nonexistent.invalid/"], 4), (["-o", "/nonexistent/dir/out", o.base], 5),
        (["--state", os.path.join(tmp, "s"), o.base], 6),
    ]
    for args, code in cases:
        r = run(args)
        check(r.returncode == code, "%s: exit %d, want %d (%s)" % (args, r.returncode, code,
                                                                   r.stderr))
        check(r.stderr.count("\n") == 1 and r.stderr.startswith("eddy-crawl: "),
              "%s: stderr %r" % (args, r.stderr))
    r = run(["--help"])
    check(r.returncode == 0 and "--per-host" in r.stdout and "[16]" in r.stdout, "--help")
    r = run(["--version"])
    check(r.returncode == 0 and r.stdout.startswith("eddy-crawl "), "--version")
    # an unreachable (refused) seed is a result, not bad input
    out = os.path.join(tmp, "refused.jsonl")
    r = run(["-q", "--no-robots", "--retries", "0", "-o", out, "http://127.0.0.1:1/"])
    rows = lines(out)
    check(r.returncode == 0 and len(rows) == 1 and rows[0]["status"] == 0 and
          "refused" in rows[0]["error"], "refused seed: %s %s" % (r.returncode, rows))


def main():
    return run_tests(globals(), "eddy-crawl-test-")


if __name__ == "__main__":
    sys.exit(main())
