#!/usr/bin/env python3
"""eddy-crawl end to end on a frontier shared through Redis (docs/crawl.md,
"Many processes on one frontier (Redis)").

  test_crawl_redis.py EDDY_CRAWL ORIGIN_PY [TEST_NAME...]

Several real eddy-crawl processes (--frontier redis://..., --crawl-id) crawl
the local origin's site (tests/http/origin.py) together, against a
redis-server this test starts on a free port of its own (exit 77, skipped,
where redis-server is not installed). What is checked is what a user
would see: the processes' JSON lines (every line must parse), their exit
statuses and stderr, and what the origin saw (request counts, times, the
most requests under way at once). Processes are killed or stopped, and
Redis stopped and restarted, in the middle of crawls. One test puts the
three processes in network namespaces of their own (root only; skipped
with a message where `ip netns` does not work). Loopback (or a bridge of
this test's own) only; every process and every wait is bounded by a
timeout.
EDDY_IO_BACKEND in the environment picks the reactor backend.
"""
import collections
import os
import re
import signal
import sys
import time

from crawl_testlib import *  # noqa: F401,F403 - the helpers these tests are written in

# ------------------------------------------------------------------ tests

def frontier_args(url, cid, seed, *opts, quiet=True):
    """A crawl of seed on the frontier url, crawl id cid, --per-host 2,
    with opts."""
    return ((["-q"] if quiet else []) + ["--frontier", url, "--crawl-id", cid, "--per-host", "2"]
            + list(opts) + [seed] + FAST)


def test_three_processes_share_one_crawl(o, tmp):
    ref = reference(o, tmp)
    r = Redis(tmp)
    try:
        cid = crawl_id("three")
        common = frontier_args(r.url, cid, o.seed, "--delay-ms", "30", "-c", "4", quiet=False)
        # -w differs between them (a per-process option); the first one
        # prints its summary
        crawls = [Crawl(tmp, "p0", common),
                  Crawl(tmp, "p1", ["-q", "-w", "1"] + common),
                  Crawl(tmp, "p2", ["-q", "-w", "2"] + common)]
        rcs = wait_all(crawls, 90)
        check(rcs == [0, 0, 0], "exit statuses %s: %s" % (rcs, [c.stderr() for c in crawls]))
        per = [lines(c.out) for c in crawls]
        rows = [x for p in per for x in p]
        check_every_page_once(o, rows, ref)
        check_host_limits(o, 2, 30)
        check(sum(1 for p in per if p) >= 2, "one process did the whole crawl: %s"
              % [len(p) for p in per])
        # the summary: this process's pages, then the whole crawl's (every
        # fetch done by the three: at least a line's worth for each line
        # that is no robots.txt block, plus robots.txt itself; at most what
        # the origin was asked)
        err = crawls[0].stderr()
        check("%d pages in" % len(per[0]) in err, "no summary of its own pages: %r" % err)
        whole = re.search(r"whole crawl.*?(\d+) (?:fetches|pages) done", err)
        check(whole, "no line with the whole crawl's counts: %r" % err)
        fetched = sum(1 for x in rows if x["error"] != "blocked by robots.txt") + 1
        check(fetched <= int(whole.group(1)) <= o.stats()["requests"],
              "the whole crawl's count %s, for %d lines and %d requests"
              % (whole.group(1), len(rows), o.stats()["requests"]))
        for c in crawls[1:]:
            check(c.stderr() == "", "--quiet printed %r" % c.stderr())
        # the frontier ends empty: nothing leased or queued is left behind
        check(r.cmd("ZCARD", "ec:%s:leases" % cid) == 0, "leases left in Redis")
        check(r.cmd("EXISTS", "ec:%s:def" % cid) == 1, "the crawl's keys are not under ec:ID:")
        print("  (lines per process: %s)" % [len(p) for p in per])
    finally:
        r.close()


def test_three_processes_hold_the_per_host_limit_without_delay(o, tmp):
    """With no delay the per-host slots are all that holds the processes
    back: twelve fetchers, pages that take 20 ms, at most two requests at
    the origin at once (and both slots used)."""
    ref = reference(o, tmp)
    r = Redis(tmp)
    try:
        o.get("/site-delay?ms=20")
        cid = crawl_id("slots")
        common = frontier_args(r.url, cid, o.seed, "--delay-ms", "0", "-c", "4")
        crawls = [Crawl(tmp, "p%d" % i, common) for i in range(3)]
        rcs = wait_all(crawls, 90)
        check(rcs == [0, 0, 0], "exit statuses %s: %s" % (rcs, [c.stderr() for c in crawls]))
        check_every_page_once(o, [x for c in crawls for x in lines(c.out)], ref)
        st = o.stats()
        check(st["inflight_max"] == 2, "%d requests at once at the origin (--per-host 2)"
              % st["inflight_max"])
    finally:
        r.close()


def test_a_process_killed_with_9_loses_nothing(o, tmp):
    ref = reference(o, tmp)
    r = Redis(tmp)
    try:
        o.get("/site-delay?ms=30")  # the victim is likely killed with a request under way
        cid = crawl_id("kill")
        common = frontier_args(r.url, cid, o.seed, "--delay-ms", "40", "-c", "4", "--timeout-ms",
                               "1000", "--lease-ms", "1500")
        crawls = [Crawl(tmp, "p%d" % i, common) for i in range(3)]
        victim, others = crawls[0], crawls[1:]
        # kill it while it holds a lease (so that the lease must come back),
        # after it wrote some lines, well before the end of the crawl
        held = []

        def holds_a_lease():
            if victim.nlines() < 3:
                return False
            held[:] = leases_of(r, cid, victim.pid)
            return bool(held)
        try:
            wait_until(holds_a_lease, 20, "the victim to hold a lease", step=0.005)
        except AssertionError:
            pass  # killed anyway: the rest still holds
        victim.proc.send_signal(signal.SIGKILL)
        victim.wait(10)
        orphans = leases_of(r, cid, victim.pid)  # what it held at its death
        total = sum(c.nlines() for c in crawls)
        check(all(c.running() for c in others), "the crawl ended before the kill")
        check(total < 100, "killed too late (%d lines already)" % total)
        rcs = wait_all(others, 90)
        check(rcs == [0, 0], "survivors' exit statuses %s: %s"
              % (rcs, [c.stderr() for c in others]))
        dead = lines(victim.out, torn_ok=True)
        alive = [x for c in others for x in lines(c.out)]
        got = named(dead + alive, o.base)
        check(got == ref, "missing %s, extra %s" % (sorted(ref - got), sorted(got - ref)))
        # a URL in two lines only where its lease expired: what the victim
        # held at its death, at most --per-host leases on the host (a line
        # of the victim's and the survivor's, or a redirect the victim
        # followed: the survivor's 301 to the target the victim queued, and
        # the target's own line)
        urls = collections.Counter(x["url"] for x in dead + alive)
        twice = sorted(rel(o.base, u) for u, n in urls.items() if n > 1)
        check(len(twice) <= 2 and all(urls[o.base + u] == 2 for u in twice),
              "URLs in more than one line: %s (the victim held %s)" % (twice, orphans))
        paths = o.stats()["paths"]
        again = {p: n for p, n in paths.items() if n > 1 and p not in RETRIED}
        check(all(n == 2 for n in again.values()) and len(again) <= 2,
              "fetched more than once: %s (the victim held %s)" % (again, orphans))
        for i in range(SITE_PAGES):
            check(paths.get("/site/p/%d" % i, 0) >= 1, "/site/p/%d never fetched" % i)
        # what the victim held came back and was done by the survivors
        survived = {x["url"] for x in alive}
        for u in orphans:
            check(u in survived, "%s, leased by the victim, has no survivor's line" % u)
        print("  (the victim held %d leases at its death: %s; fetched twice: %s)"
              % (len(orphans), [rel(o.base, u) for u in orphans], sorted(again)))
    finally:
        r.close()


def test_a_stalled_process_loses_its_leases_to_the_others(o, tmp):
    """A process stopped (SIGSTOP) longer than --lease-ms: what it held goes
    to the others; when it runs again its late ends change nothing (the
    lease is gone) and every process ends the crawl with 0."""
    ref = reference(o, tmp)
    r = Redis(tmp)
    try:
        o.get("/site-delay?ms=30")
        cid = crawl_id("stall")
        common = frontier_args(r.url, cid, o.seed, "--delay-ms", "40", "-c", "4", "--timeout-ms",
                               "1000", "--lease-ms", "1500")
        crawls = [Crawl(tmp, "p%d" % i, common) for i in range(3)]
        stalled, others = crawls[0], crawls[1:]
        held = []
        for _ in range(20):  # stopped while it holds a lease (read once it is stopped)
            wait_until(lambda: stalled.nlines() >= 3 and leases_of(r, cid, stalled.pid), 20,
                       "the process to hold a lease", step=0.005)
            stalled.proc.send_signal(signal.SIGSTOP)
            held = leases_of(r, cid, stalled.pid)
            if held:
                break
            stalled.proc.send_signal(signal.SIGCONT)
        check(held, "never caught the process holding a lease")
        try:
            # its leases expire and the others take them over
            wait_until(lambda: not leases_of(r, cid, stalled.pid), 10,
                       "the stopped process's leases to expire", step=0.05)
            n = sum(c.nlines() for c in others)
            wait_until(lambda: sum(c.nlines() for c in others) > n + 3, 10,
                       "the others to go on without it")
        finally:
            stalled.proc.send_signal(signal.SIGCONT)
        rcs = wait_all(crawls, 90)
        check(rcs == [0, 0, 0], "exit statuses %s: %s" % (rcs, [c.stderr() for c in crawls]))
        mine = lines(stalled.out)
        theirs = [x for c in others for x in lines(c.out)]
        got = named(mine + theirs, o.base)
        check(got == ref, "missing %s, extra %s" % (sorted(ref - got), sorted(got - ref)))
        for u in held:
            check(u in {x["url"] for x in theirs}, "%s, held by the stopped process, has no "
                  "line of the others'" % rel(o.base, u))
        urls = collections.Counter(x["url"] for x in mine + theirs)
        twice = sorted(rel(o.base, u) for u, n in urls.items() if n > 1)
        check(len(twice) <= 2 and all(urls[o.base + u] == 2 for u in twice),
              "URLs in more than one line: %s (it held %s)" % (twice, held))
        paths = o.stats()["paths"]
        again = {p: n for p, n in paths.items() if n > 1 and p not in RETRIED}
        check(all(n == 2 for n in again.values()) and len(again) <= 2,
              "fetched more than once: %s (it held %s)" % (again, held))
        check(r.cmd("ZCARD", "ec:%s:leases" % cid) == 0, "leases left in Redis")
        print("  (it held %s when stopped; in two lines: %s)"
              % ([rel(o.base, u) for u in held], twice))
    finally:
        r.close()


def test_redis_restarted_with_its_data_mid_crawl(o, tmp):
    ref = reference(o, tmp)
    r = Redis(tmp, persist=True)
    try:
        cid = crawl_id("restart")
        common = frontier_args(r.url, cid, o.seed, "--delay-ms", "30", "-c", "4", "--timeout-ms",
                               "2000", "--lease-ms", "6000", quiet=False)
        # the first says what happens; the others are quiet
        crawls = [Crawl(tmp, "p%d" % i, (["-q"] if i else []) + common) for i in range(3)]
        wait_until(lambda: sum(c.nlines() for c in crawls) >= 30, 30, "30 lines")
        check(all(c.running() for c in crawls), "a process ended before Redis was stopped")
        r.stop(signal.SIGTERM)  # a clean shutdown: the AOF has every write
        at_stop = sum(c.nlines() for c in crawls)
        time.sleep(1.0)  # Redis is away this long (not a synchronisation)
        at_restart = sum(c.nlines() for c in crawls)
        check(all(c.running() for c in crawls), "a process ended while Redis was away: %s"
              % [(c.proc.returncode, c.stderr()) for c in crawls])
        r.start()
        check(r.cmd("EXISTS", "ec:%s:def" % cid) == 1, "Redis came back without the crawl")
        rcs = wait_all(crawls, 90)
        check(rcs == [0, 0, 0], "exit statuses %s: %s" % (rcs, [c.stderr() for c in crawls]))
        # without Redis no URL is handed out: only the fetches under way
        # (at most --per-host; a robots.txt block's line besides) end
        check(at_restart - at_stop <= 3, "%d lines while Redis was away" % (at_restart - at_stop))
        err = crawls[0].stderr()
        check(any("redis" in l.lower() for l in err.splitlines()[:-3]) and "pages in" in err,
              "no word of the outage, or no summary: %r" % err)
        check(all(c.stderr() == "" for c in crawls[1:]), "--quiet printed %s"
              % [c.stderr() for c in crawls[1:]])
        rows = [x for c in crawls for x in lines(c.out)]
        check(len(rows) > at_restart, "nothing crawled after the restart")
        got = named(rows, o.base)
        check(got == ref, "missing %s, extra %s" % (sorted(ref - got), sorted(got - ref)))
        # fetched again only what was leased at the stop: --per-host of them
        paths = o.stats()["paths"]
        for i in range(SITE_PAGES):
            check(paths.get("/site/p/%d" % i, 0) >= 1, "/site/p/%d never fetched" % i)
        again = {p: n for p, n in paths.items() if n > 1 and p not in RETRIED}
        check(all(n == 2 for n in again.values()) and len(again) <= 2,
              "fetched more than once: %s" % again)
        urls = collections.Counter(x["url"] for x in rows)
        twice = sorted(rel(o.base, u) for u, n in urls.items() if n > 1)
        check(len(twice) <= 2 and all(urls[o.base + u] == 2 for u in twice),
              "URLs with more than one line: %s" % twice)
        print("  (%d lines at the stop, %d at the restart, %d in all; fetched twice: %s; "
              "URLs in two lines: %s)" % (at_stop, at_restart, len(rows), sorted(again), twice))
    finally:
        r.close()


def test_redis_gone_for_good_ends_every_process_with_7(o, tmp):
    r = Redis(tmp)
    try:
        cid = crawl_id("gone")
        common = frontier_args(r.url, cid, o.seed, "--delay-ms", "30", "-c", "4", "--timeout-ms",
                               "2000", "--lease-ms", "3000", "--redis-retry-ms", "1000")
        crawls = [Crawl(tmp, "p%d" % i, common) for i in range(3)]
        wait_until(lambda: sum(c.nlines() for c in crawls) >= 20, 30, "20 lines")
        check(all(c.running() for c in crawls), "a process ended before Redis was stopped")
        t0 = time.monotonic()
        r.stop(signal.SIGKILL)
        rcs = wait_all(crawls, 30)
        check(rcs == [7, 7, 7], "exit statuses %s: %s" % (rcs, [c.stderr() for c in crawls]))
        for c in crawls:
            took = c.ended - t0
            # it retried for --redis-retry-ms (1 s) before giving up, then
            # ended the fetches it held (--timeout-ms 2 s at most)
            check(0.9 <= took <= 10, "%s exited %.1f s after Redis went" % (c.name, took))
            err = c.stderr()
            check(one_line(err) and "redis" in err.lower() and "lost" in err.lower(),
                  "%s: stderr %r" % (c.name, err))
            lines(c.out)  # every line parses, the file ends with a line end
        check(sum(len(lines(c.out)) for c in crawls) >= 20, "lines went missing")
    finally:
        r.close()


def test_redis_back_without_the_crawl_ends_it_with_7(o, tmp):
    r = Redis(tmp)  # no persistence: a restart comes back empty
    try:
        cid = crawl_id("empty")
        common = frontier_args(r.url, cid, o.seed, "--delay-ms", "30", "-c", "4", "--timeout-ms",
                               "2000", "--lease-ms", "3000", "--redis-retry-ms", "10000")
        crawls = [Crawl(tmp, "p%d" % i, common) for i in range(3)]
        wait_until(lambda: sum(c.nlines() for c in crawls) >= 20, 30, "20 lines")
        check(all(c.running() for c in crawls), "a process ended before Redis was stopped")
        r.stop(signal.SIGTERM)
        r.start()
        check(r.cmd("DBSIZE") == 0, "Redis kept data without persistence")
        rcs = wait_all(crawls, 30)
        # an empty Redis looks like a crawl with nothing left: taking it for
        # the end would exit 0 with most of the site never crawled
        check(rcs == [7, 7, 7], "exit statuses %s: %s" % (rcs, [c.stderr() for c in crawls]))
        for c in crawls:
            err = c.stderr()
            # "Redis came back without this crawl's data" / "lost the crawl's state"
            check(one_line(err) and "redis" in err.lower() and
                  ("without" in err.lower() or "lost" in err.lower()), "%s: stderr %r"
                  % (c.name, err))
            lines(c.out)
    finally:
        r.close()


def test_state_with_a_frontier_keeps_the_output_whole(o, tmp):
    """--state DIR beside --frontier: the directory is tied to that crawl
    (another crawl id is refused with 6), a line a kill cut short is
    removed when the process starts again, and no queue.log is kept (the
    frontier is the record of what is queued)."""
    r = Redis(tmp)
    try:
        cid = crawl_id("state")
        state, out = os.path.join(tmp, "state"), os.path.join(tmp, "out.jsonl")
        common = ["-q", "--frontier", r.url, "--per-host", "2", "--delay-ms", "0",
                  "--state", state, "-o", out, o.seed] + FAST
        res = run(["--crawl-id", cid] + common)
        check(res.returncode == 0, "exit %d: %s" % (res.returncode, res.stderr))
        rows = lines(out)
        check(len(rows) > 50, "%d lines" % len(rows))
        with open(os.path.join(state, "crawl.conf")) as f:
            conf = f.read()
        check("crawl-id %s\n" % cid in conf and "frontier %s\n" % r.url in conf,
              "crawl.conf: %r" % conf)
        check(not os.path.exists(os.path.join(state, "queue.log")), "a queue.log was kept")
        res = run(["--crawl-id", cid + "-other"] + common)
        check(res.returncode == 6 and one_line(res.stderr), "another crawl id: exit %d, %r"
              % (res.returncode, res.stderr))
        with open(out, "a") as f:
            f.write('{"url": "http://cut.short/')  # what a kill leaves
        res = run(["--crawl-id", cid] + common)  # the crawl is over: nothing to fetch
        check(res.returncode == 0, "restart: exit %d: %s" % (res.returncode, res.stderr))
        check(lines(out) == rows, "the restart changed the lines beyond the cut one")
    finally:
        r.close()


def test_bad_input_gets_one_line_and_its_exit_code(o, tmp):
    r = Redis(tmp)
    try:
        closed = free_port()
        cid = crawl_id("bad")
        out = os.path.join(tmp, "bad.jsonl")
        cases = [
            (["--frontier", r.url, o.seed], 2),                       # no --crawl-id
            (["--crawl-id", cid, o.seed], 2),                         # no --frontier
            (["--frontier", "http://x", "--crawl-id", cid, o.seed], 2),
            (["--frontier", "redis://127.0.0.1:notaport", "--crawl-id", cid, o.seed], 2),
            (["--frontier", "redis://127.0.0.1:%d/x" % r.port, "--crawl-id", cid, o.seed], 2),
            (["--frontier", r.url, "--crawl-id", "a b", o.seed], 2),
            (["--frontier", r.url, "--crawl-id", "", o.seed], 2),
            (["--frontier", r.url, "--crawl-id", "x" * 101, o.seed], 2),
            (["--frontier", r.url, "--crawl-id", cid, "--lease-ms", "1000", "--timeout-ms",
              "2000", o.seed], 2),
            (["--frontier", r.url, "--crawl-id", cid, "--lease-ms", "2000", "--timeout-ms",
              "2000", o.seed], 2),
            (["--frontier", r.url, "--crawl-id", cid, "--redis-retry-ms", "x", o.seed], 2),
            (["--frontier", "redis://127.0.0.1:%d" % closed, "--crawl-id", cid, o.seed], 7),
        ]
        for args, code in cases:
            t0 = time.monotonic()
            res = run(["-q", "-o", out] + args)
            check(res.returncode == code, "%s: exit %d, want %d (%r)"
                  % (args, res.returncode, code, res.stderr))
            check(one_line(res.stderr), "%s: stderr %r" % (args, res.stderr))
            check(time.monotonic() - t0 < 15, "%s took %.1f s" % (args, time.monotonic() - t0))
        check(lines(out) == [], "a refused process wrote lines")
        check(r.cmd("KEYS", "ec:%s:*" % cid) == [], "a refused process wrote to Redis")
        h = run(["--help"])
        check(h.returncode == 0 and all(s in h.stdout for s in
                                        ("--frontier", "--crawl-id", "--lease-ms",
                                         "--redis-retry-ms")), "--help: %s" % h.stdout)
        # a crawl under way, and processes joining it: what defines the
        # crawl must agree (exit 8, before any fetch); what is the process's
        # own may differ
        jid = crawl_id("join")
        define = ["--frontier", r.url, "--crawl-id", jid, "--per-host", "2", "--delay-ms", "50",
                  "--max-pages", "20"] + FAST
        first = Crawl(tmp, "first", ["-q"] + define + [o.seed])
        wait_until(lambda: r.cmd("EXISTS", "ec:%s:def" % jid) == 1, 15, "the crawl's definition")
        others = [
            (["--per-host", "3"], [o.seed]),
            ([], [o.base + "/site/p/1"]),
            ([], [o.seed, o.base + "/site/p/1"]),
            (["--no-robots"], [o.seed]),
            (["--delay-ms", "10"], [o.seed]),
            (["--max-pages", "21"], [o.seed]),
            (["--max-depth", "3"], [o.seed]),
            (["--max-redirects", "3"], [o.seed]),
            (["--allow-domain", "localhost"], [o.seed]),
            (["--lease-ms", "45000"], [o.seed]),
        ]
        for i, (opts, seeds) in enumerate(others):
            jout = os.path.join(tmp, "join%d.jsonl" % i)
            # the later options win where given twice (getopt): "define" first
            res = run(["-q", "-o", jout] + define + opts + seeds)
            check(res.returncode == 8, "joining with %s %s: exit %d, want 8 (%r)"
                  % (opts, [rel(o.base, s) for s in seeds], res.returncode, res.stderr))
            check(one_line(res.stderr), "joining with %s: stderr %r" % (opts, res.stderr))
            check(lines(jout) == [], "a refused process wrote lines")
        second = Crawl(tmp, "second", ["-c", "2", "-w", "1", "--timeout-ms", "5000"] + define +
                       [o.seed])
        rcs = wait_all([first, second], 60)
        check(rcs == [0, 0], "same definition, other -c/-o/-w/-q/--timeout-ms: %s %s"
              % (rcs, [first.stderr(), second.stderr()]))
        rows = lines(first.out) + lines(second.out)
        urls = [x["url"] for x in rows]
        check(len(set(urls)) == len(urls), "a URL twice")
        # the page budget is the whole crawl's, whoever fetched them
        pages = [x for x in rows if x["error"] != "blocked by robots.txt"]
        check(len(pages) == 20, "--max-pages 20 across both: %d lines" % len(pages))
    finally:
        r.close()


def test_three_network_namespaces_share_one_crawl(o, tmp):
    why = netns_usable()
    if why:
        raise Skip("ip netns not usable here (%s)" % why)
    ref = reference(o, tmp)
    sweep_stale_netns()
    br = Bridge(3)  # cleans up after itself if it cannot be made
    origin = r = None
    try:
        origin = Origin(bind=br.addr)
        origin.reset()
        r = Redis(tmp, bind=(br.addr, "127.0.0.1"))
        for k in range(3):
            wait_until(lambda: br.reaches(k, r.port), 15, "namespace %d to reach Redis" % k,
                       step=0.1)
        cid = crawl_id("netns")
        url = "redis://%s:%d/0" % (br.addr, r.port)
        common = frontier_args(url, cid, origin.seed, "--delay-ms", "30", "-c", "4")
        crawls = [Crawl(tmp, "ns%d" % k, common, ns=br.ns[k]) for k in range(3)]
        # who Redis sees: the three namespaces' addresses
        peers = set()
        while any(c.running() for c in crawls) and not set(br.ns_addr) <= peers:
            try:
                for l in r.cmd("CLIENT", "LIST").splitlines():
                    a = dict(kv.split("=", 1) for kv in l.split() if "=" in kv).get("addr", "")
                    peers.add(a.rsplit(":", 1)[0])
            except (OSError, RedisError):
                pass
            time.sleep(0.02)
        rcs = wait_all(crawls, 90)
        check(rcs == [0, 0, 0], "exit statuses %s: %s" % (rcs, [c.stderr() for c in crawls]))
        check(set(br.ns_addr) <= peers, "Redis saw clients from %s, not from each of %s"
              % (sorted(peers), br.ns_addr))
        rows = [x for c in crawls for x in lines(c.out)]
        check_every_page_once(origin, rows, ref)
        check_host_limits(origin, 2, 30)
    finally:
        if r is not None:
            r.close()
        if origin is not None:
            origin.close()
        br.close()
    left = sh("ip", "netns", "list").stdout
    check(not [n for n in br.ns if n in left], "namespaces left behind: %s" % left)


def kill_children():
    for p in CHILDREN:
        if p.poll() is None:
            p.kill()
            p.wait()
    del CHILDREN[:]


def main():
    if REDIS_SERVER is None:
        print("redis-server not installed: skipped")
        return 77
    return run_tests(globals(), "eddy-crawl-redis-test-", kill_children)


if __name__ == "__main__":
    sys.exit(main())
