"""Helpers of eddy-crawl's end-to-end tests (test_crawl.py,
test_crawl_redis.py): the local origin, a small Redis client and a
redis-server of the test's own, crawl processes, checks of what the origin
saw, and network namespaces on a bridge. Both tests run as
`TEST.py EDDY_CRAWL ORIGIN_PY [TEST_NAME...]`.
"""
import collections
import ctypes
import fcntl
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request


CRAWL, ORIGIN = sys.argv[1], sys.argv[2]
REDIS_SERVER = shutil.which("redis-server")
SITE_PAGES = 60
# Gaps between request starts are measured as arrivals at the origin: a
# request on a new connection arrives later after its start (the handshake)
# than one on a kept connection (see also check_host_limits).
TRANSIT_SLACK = 0.005
# pages the site asks for more than once by design (503 twice, 429 once,
# connection resets curl itself sends again, 500 retried)
RETRIED = {"/site/flaky", "/site/ratelimited", "/site/reset", "/site/500"}
# options every crawl here shares: fast retries (the site's flaky pages)
FAST = ["--retry-base-ms", "50"]

CHILDREN = []  # every process started, killed at the end of its test if still running
_cid = [0]


def die_with_parent():
    # a child never outlives this test (ctest's timeout kills the test only)
    ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG


def crawl_id(name):
    _cid[0] += 1
    return "t%d-%s-%d" % (os.getpid(), name, _cid[0])


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


class Skip(Exception):
    """A test that cannot run here: reported, not failed."""


def check(cond, what):
    if not cond:
        raise AssertionError(what)


def wait_until(cond, timeout, what, step=0.01):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if cond():
            return
        time.sleep(step)
    raise AssertionError("timed out after %.0f s waiting for %s" % (timeout, what))


# ------------------------------------------------------------ the origin

class Origin:
    def __init__(self, bind=None):
        args = [sys.executable, ORIGIN] + (["--bind", bind] if bind else [])
        self.proc = subprocess.Popen(args, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     text=True, preexec_fn=die_with_parent)
        _, port, control = self.proc.stdout.readline().split()
        self.base = "http://%s:%s" % (bind or "127.0.0.1", port)
        self.control = "http://127.0.0.1:%s" % control
        self.seed = self.base + "/site/p/0"

    def get(self, path):
        with urllib.request.urlopen(self.control + path, timeout=10) as r:
            return json.loads(r.read())

    def reset(self, robots="User-agent: *\nDisallow: /site/private/\n"):
        req = urllib.request.Request(self.control + "/robots", data=robots.encode(), method="POST")
        urllib.request.urlopen(req, timeout=10).read()
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            st = self.stats()
            if st["inflight"] == 0 and st["conns_now"] == 0:
                break
            time.sleep(0.05)
        self.get("/reset-stats")

    def stats(self):
        return self.get("/stats")

    def log(self):
        return self.get("/log")  # [time, path, ...] of each request

    def close(self):
        self.proc.stdin.close()
        self.proc.wait(timeout=10)


# ------------------------------------------------------------ redis

class RedisError(Exception):
    pass


def _reply(f):
    line = f.readline()
    if not line.endswith(b"\r\n"):
        raise ConnectionError("connection closed")
    t, rest = line[:1], line[1:-2]
    if t == b"+":
        return rest.decode()
    if t == b"-":
        raise RedisError(rest.decode())
    if t == b":":
        return int(rest)
    if t == b"$":
        n = int(rest)
        return None if n < 0 else f.read(n + 2)[:-2].decode(errors="replace")
    if t == b"*":
        n = int(rest)
        return None if n < 0 else [_reply(f) for _ in range(n)]
    raise RedisError("unexpected reply %r" % line)


def redis_cmd(port, *args, host="127.0.0.1", timeout=5):
    """One command on a connection of its own (RESP by hand: no client
    library needed)."""
    with socket.create_connection((host, port), timeout=timeout) as s:
        parts = [str(a).encode() for a in args]
        s.sendall(b"*%d\r\n" % len(parts) +
                  b"".join(b"$%d\r\n%s\r\n" % (len(p), p) for p in parts))
        with s.makefile("rb") as f:
            return _reply(f)


class Redis:
    """A redis-server of this test's own: a free port, a directory in the
    test's tmp, no persistence unless asked (then an AOF fsynced on every
    write, so that a stop loses nothing)."""

    def __init__(self, tmp, persist=False, bind=("127.0.0.1",)):
        self.port = free_port()
        self.dir = os.path.join(tmp, "redis")
        os.makedirs(self.dir, exist_ok=True)
        self.args = [REDIS_SERVER, "--port", str(self.port), "--bind", *bind,
                     "--protected-mode", "no", "--dir", self.dir, "--save", "",
                     "--logfile", os.path.join(self.dir, "redis.log"), "--daemonize", "no"]
        self.args += ["--appendonly", "yes", "--appendfsync", "always"] if persist else \
            ["--appendonly", "no"]
        self.url = "redis://127.0.0.1:%d/0" % self.port
        self.proc = None
        self.start()

    def start(self):
        self.proc = subprocess.Popen(self.args, stdin=subprocess.DEVNULL,
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                     preexec_fn=die_with_parent)
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            check(self.proc.poll() is None, "redis-server exited %s at start (port %d taken?)"
                  % (self.proc.returncode, self.port))
            if self.ping():
                return
            time.sleep(0.02)
        raise AssertionError("redis-server on port %d does not answer" % self.port)

    def ping(self):
        try:
            return redis_cmd(self.port, "PING", timeout=1) == "PONG"
        except (OSError, RedisError):
            return False

    def cmd(self, *args):
        return redis_cmd(self.port, *args)

    def stop(self, sig=signal.SIGTERM):
        """SIGTERM: Redis shuts down (flushing its AOF); SIGKILL: gone."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(sig)
            self.proc.wait(timeout=15)
        self.proc = None

    def close(self):
        self.stop(signal.SIGKILL)


# ------------------------------------------------------------ crawls

class Crawl:
    """A running eddy-crawl: its own -o file and stderr file in tmp,
    optionally in network namespace ns."""

    def __init__(self, tmp, name, args, ns=None):
        self.name = name
        self.out = os.path.join(tmp, name + ".jsonl")
        self.err = os.path.join(tmp, name + ".err")
        cmd = (["ip", "netns", "exec", ns] if ns else []) + [CRAWL, "-o", self.out] + args
        with open(self.err, "w") as err:
            self.proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL,
                                         stdout=subprocess.DEVNULL, stderr=err,
                                         preexec_fn=die_with_parent)
        CHILDREN.append(self.proc)
        self.pid = self.proc.pid
        self.ended = None

    def running(self):
        return self.proc.poll() is None

    def wait(self, timeout):
        try:
            rc = self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            raise AssertionError("%s still running after %.0f s: %s" % (self.name, timeout,
                                                                       self.stderr()[-300:]))
        if self.ended is None:
            self.ended = time.monotonic()
        return rc

    def stderr(self):
        with open(self.err) as f:
            return f.read()

    def nlines(self):
        try:
            with open(self.out, "rb") as f:
                return f.read().count(b"\n")
        except FileNotFoundError:
            return 0


def wait_all(crawls, timeout):
    """Waits for every crawl (timeout for all together): their statuses;
    each crawl's .ended is when it was first seen ended."""
    deadline = time.monotonic() + timeout
    pending = list(crawls)
    while pending and time.monotonic() < deadline:
        for c in pending[:]:
            if not c.running():
                c.ended = time.monotonic()
                pending.remove(c)
        time.sleep(0.01)
    if pending:
        for c in pending:
            c.proc.kill()
            c.proc.wait()
        raise AssertionError("still running after %.0f s: %s" % (
            timeout, ["%s (%s)" % (c.name, c.stderr()[-200:].strip()) for c in pending]))
    return [c.proc.returncode for c in crawls]


def run(args, timeout=60, **kw):
    return subprocess.run([CRAWL] + args, capture_output=True, text=True, timeout=timeout,
                          **kw)


def lines(path, torn_ok=False):
    """The JSON lines of an output: every line must parse and the file end
    with a line end, unless torn_ok (a process killed with -9 may have
    written part of its last line): then that part is dropped."""
    try:
        with open(path) as f:
            text = f.read()
    except FileNotFoundError:
        return []
    if torn_ok and not text.endswith("\n"):
        text = text[:text.rfind("\n") + 1]
    check(text == "" or text.endswith("\n"), "%s ends inside a line" % path)
    return [json.loads(l) for l in text.splitlines()]


def rel(base, url):
    return url[len(base):] if url.startswith(base) else url


def named(rows, base):
    """The site-relative URLs the lines name: which URL of a redirect chain
    gets the line depends on timing (a page reached first through a
    redirect is the chain's final_url, else its own url)."""
    return {rel(base, x["url"]) for x in rows} | {rel(base, x["final_url"]) for x in rows}


_REFERENCE = {}


def reference(o, tmp):
    """What one process with the in-memory frontier names crawling the site
    (site-relative): the whole crawl the shared ones must match."""
    if "named" not in _REFERENCE:
        out = os.path.join(tmp, "reference.jsonl")
        o.reset()
        r = run(["-q", "--delay-ms", "0", "--per-host", "4", "-c", "8", "-o", out, o.seed] + FAST)
        check(r.returncode == 0, "reference crawl: exit %d %s" % (r.returncode, r.stderr))
        _REFERENCE["named"] = named(lines(out), o.base)
        o.reset()
        check({"/site/p/%d" % i for i in range(SITE_PAGES)} <= _REFERENCE["named"],
              "the reference crawl missed pages")
    return _REFERENCE["named"]


def check_every_page_once(o, rows, ref, what=""):
    """The union of the processes' lines: each URL once, the same URLs as
    one process crawling alone; the origin saw each page once (the pages
    retried by design aside), robots.txt once and first."""
    urls = collections.Counter(x["url"] for x in rows)
    dups = sorted(rel(o.base, u) for u, n in urls.items() if n > 1)
    check(not dups, "%sURLs in two lines: %s" % (what, dups))
    got = named(rows, o.base)
    check(got == ref, "%snot the crawl one process makes: missing %s, extra %s"
          % (what, sorted(ref - got), sorted(got - ref)))
    ok = collections.Counter(rel(o.base, x["final_url"]) for x in rows if x["status"] == 200)
    for i in range(SITE_PAGES):
        check(ok["/site/p/%d" % i] == 1, "%s/site/p/%d has %d lines with status 200"
              % (what, i, ok["/site/p/%d" % i]))
    paths = o.stats()["paths"]
    for i in range(SITE_PAGES):
        check(paths.get("/site/p/%d" % i) == 1, "%sthe origin saw /site/p/%d %s times"
              % (what, i, paths.get("/site/p/%d" % i)))
    again = {p: n for p, n in paths.items() if n > 1 and p not in RETRIED}
    check(not again, "%sthe origin saw these more than once: %s" % (what, again))
    check(paths.get("/site/private/1", 0) == 0, "%sfetched a page robots.txt disallows" % what)
    check(paths.get("/robots.txt") == 1, "%srobots.txt fetched %s times"
          % (what, paths.get("/robots.txt")))
    first = o.log()[0][1]
    check(first == "/robots.txt", "%sthe first request was %s, not robots.txt" % (what, first))


def check_host_limits(o, per_host, delay_ms, what=""):
    """At most per_host requests at once at the origin, and their starts
    spaced by at least 0.5 x delay_ms (--delay-ms is jittered 0.5-1.5x).
    Starts are seen as arrivals at the origin: a start is decided when
    Redis leases the URL, and a process descheduled between its lease and
    its send (two cores, shared) arrives late, its gap before it long and
    the one after it short; the two together still span two delays (on a
    loaded machine this happens a few times a crawl; never when the test
    runs at a higher priority than the load). So a short gap is let pass
    when a two-gap window around it spans 2 x the bound, and only a few of
    them (5%); and the median gap must be near the delay. A delay that is
    not shared by the processes (each spacing its own starts) gives a third
    of the gaps, many short ones and windows as short."""
    st = o.stats()
    check(st["inflight_max"] <= per_host, "%s%d requests at once at the origin (--per-host %d)"
          % (what, st["inflight_max"], per_host))
    # curl itself sends a request again at once on a kept connection that
    # the origin reset (/site/reset): not a start of the crawler's
    every = sorted(o.log())
    log = [x for i, x in enumerate(every)
           if not (i > 0 and x[1] == "/site/reset" and every[i - 1][1] == x[1])]
    t = [x[0] for x in log]
    gaps = [b - a for a, b in zip(t, t[1:])]
    low = 0.5 * delay_ms / 1000.0 - TRANSIT_SLACK
    short = [i for i, g in enumerate(gaps) if g < low]
    unexplained = [i for i in short
                   if not ((i > 0 and gaps[i - 1] + gaps[i] >= 2 * low) or
                           (i + 1 < len(gaps) and gaps[i] + gaps[i + 1] >= 2 * low))]
    show = ["%.1f ms %s -> %s" % (gaps[i] * 1000, log[i][1], log[i + 1][1]) for i in short]
    check(len(gaps) > 10 and not unexplained and len(short) <= max(3, len(gaps) // 20),
          "%sstarts closer than %.1f ms: %s (%d not explained by a late arrival)"
          % (what, low * 1000, show[:10] + (["..."] if len(show) > 10 else []),
             len(unexplained)))
    median = sorted(gaps)[len(gaps) // 2]
    check(median >= 0.7 * delay_ms / 1000.0, "%sthe median gap between starts is %.1f ms "
          "(--delay-ms %d)" % (what, median * 1000, delay_ms))
    if short:
        print("  (%d short gaps after a late arrival: %s)" % (len(short), show))


def leases_of(r, cid, pid):
    """What process pid holds leases on now, as the URLs their lines will
    carry (the frontier's keys, tools/crawl/lua/common.lua: the hash
    ec:ID:lease maps a lease id to "HOST\nSET\nPREV\nOWNER\nENTRY", OWNER
    "host:pid:..."; an entry's fields are tab-separated, the 6th its URL
    and the 7th, for a redirect hop, the chain's first URL: the line's)."""
    got = []
    h = r.cmd("HGETALL", "ec:%s:lease" % cid) or []
    for v in h[1::2]:
        f = v.split("\n", 4)
        if len(f) == 5 and f[3].split(":")[1:2] == [str(pid)]:
            e = f[4].split("\t")
            if len(e) >= 7:
                got.append(e[6] or e[5])
    return got


def one_line(text):
    return text.count("\n") == 1 and text.startswith("eddy-crawl: ")


# ------------------------------------------------------------ namespaces

def sh(*args, check_rc=True):
    res = subprocess.run(list(args), capture_output=True, text=True, timeout=20)
    if check_rc and res.returncode != 0:
        raise AssertionError("%s: %s" % (" ".join(args), res.stderr.strip()))
    return res


def netns_usable():
    if os.geteuid() != 0 or shutil.which("ip") is None:
        return "not root or no ip(8)"
    probe = "eddyprobe%d" % os.getpid()
    res = sh("ip", "netns", "add", probe, check_rc=False)
    if res.returncode != 0:
        return "ip netns add: " + res.stderr.strip()
    sh("ip", "netns", "del", probe, check_rc=False)
    res = sh("ip", "link", "add", "eddyprobe%d" % (os.getpid() % 100000), "type", "bridge",
             check_rc=False)
    if res.returncode != 0:
        return "ip link add type bridge: " + res.stderr.strip()
    sh("ip", "link", "del", "eddyprobe%d" % (os.getpid() % 100000), check_rc=False)
    return None


def sweep_stale_netns():
    """Namespaces and bridges an earlier run left when it was killed (a
    ctest timeout skips its cleanup): theirs is a pid no longer running."""
    for name in sh("ip", "netns", "list", check_rc=False).stdout.split():
        m = re.match(r"eddy(\d+)n\d+$", name)
        if m and not os.path.exists("/proc/%s" % m.group(1)):
            sh("ip", "netns", "del", name, check_rc=False)
    for line in sh("ip", "-o", "link", "show", check_rc=False).stdout.splitlines():
        m = re.match(r"\d+: (ebr(\d+)|ev(\d+)h\d+)[@:]", line)
        if m and not os.path.exists("/proc/%s" % (m.group(2) or m.group(3))):
            sh("ip", "link", "del", m.group(1), check_rc=False)


class Bridge:
    """A bridge ebr<pid> with 10.77.S.1/24 in this namespace, and n
    namespaces eddy<pid>n<k>, each linked to it by a veth pair (ev<pid>h<k>
    on the bridge, ev<pid>n<k> inside with 10.77.S.(k+2)/24). S is a subnet
    no interface here uses (chosen under a lock: parallel runs)."""

    def __init__(self, n):
        pid = os.getpid()
        self.br = "ebr%d" % pid
        self.ns = ["eddy%dn%d" % (pid, k) for k in range(n)]
        self.veth = ["ev%dh%d" % (pid, k) for k in range(n)]
        self.made = []
        try:
            self.make(pid, n)
        except BaseException:
            self.close()
            raise

    def make(self, pid, n):
        with open("/tmp/eddy-crawl-netns.lock", "w") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            used = sh("ip", "-o", "-4", "addr", "show").stdout
            for k in range(200):
                s = 1 + (pid + k) % 250
                if " 10.77.%d." % s not in used:
                    break
            self.subnet = s
            self.addr = "10.77.%d.1" % s
            self.ns_addr = ["10.77.%d.%d" % (s, k + 2) for k in range(n)]
            sh("ip", "link", "add", self.br, "type", "bridge")
            self.made.append(("link", self.br))
            sh("ip", "addr", "add", self.addr + "/24", "dev", self.br)
            sh("ip", "link", "set", self.br, "up")
        for k in range(n):
            ns, vh, vn = self.ns[k], self.veth[k], "ev%dn%d" % (pid, k)
            sh("ip", "netns", "add", ns)
            self.made.append(("netns", ns))
            sh("ip", "link", "add", vh, "type", "veth", "peer", "name", vn)
            self.made.append(("link", vh))
            sh("ip", "link", "set", vn, "netns", ns)
            sh("ip", "link", "set", vh, "master", self.br)
            sh("ip", "link", "set", vh, "up")
            sh("ip", "netns", "exec", ns, "ip", "addr", "add", self.ns_addr[k] + "/24", "dev", vn)
            sh("ip", "netns", "exec", ns, "ip", "link", "set", vn, "up")
            sh("ip", "netns", "exec", ns, "ip", "link", "set", "lo", "up")

    def reaches(self, k, port):
        """Whether namespace k connects to this side's address on port."""
        code = ("import socket,sys\ntry:\n socket.create_connection((%r,%d),timeout=1).close()\n"
                "except OSError:\n sys.exit(1)\n" % (self.addr, port))
        return sh("ip", "netns", "exec", self.ns[k], sys.executable, "-c", code,
                  check_rc=False).returncode == 0

    def close(self):
        for kind, name in reversed(self.made):
            if kind == "netns":
                sh("ip", "netns", "del", name, check_rc=False)
            else:
                sh("ip", "link", "del", name, check_rc=False)  # gone with its netns: fine




def run_tests(names, tmp_prefix, after_each=None):
    """Runs the test_* functions of names (a module's globals(), or those
    named on the command line after EDDY_CRAWL and ORIGIN_PY), each with
    the origin reset and a temporary directory of its own, and reports
    each; after_each() runs after every test. 1 when one failed, else 0."""
    tests = [v for k, v in sorted(names.items()) if k.startswith("test_")]
    only = sys.argv[3:]
    if only:
        tests = [t for t in tests if t.__name__ in only]
    o = Origin()
    failed = 0
    try:
        for t in tests:
            tmp = tempfile.mkdtemp(prefix=tmp_prefix)
            o.reset()
            t0 = time.monotonic()
            try:
                t(o, tmp)
                print("ok     %s (%.1f s)" % (t.__name__, time.monotonic() - t0), flush=True)
            except Skip as e:
                print("skip   %s: %s" % (t.__name__, e), flush=True)
            except Exception as e:  # noqa: BLE001 - report any failure and go on
                failed += 1
                print("FAILED %s: %s: %s" % (t.__name__, type(e).__name__, e), flush=True)
            finally:
                if after_each is not None:
                    after_each()
                shutil.rmtree(tmp, ignore_errors=True)
    finally:
        o.close()
    print("%d of %d failed" % (failed, len(tests)))
    return 1 if failed else 0
