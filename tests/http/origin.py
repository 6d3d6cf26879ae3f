#!/usr/bin/env python3
"""A local HTTP origin for eddy's client and crawler tests (loopback only).

Started by the tests themselves: `origin.py [--bind ADDR]` binds 127.0.0.1
(the main port: ADDR if given) on two free ports, prints "PORTS <main>
<control>" on stdout and serves until its stdin closes (so it never
outlives the test that started it).

Main port (HTTP/1.1, keep-alive, a thread per connection):
  /hello                  200 "hello"
  /delay?ms=N             200 after N ms
  /status/N               status N with a short body
  /redirect/N             N redirects, then /hello
  /loop                   redirects to itself
  /reset                  reads the request, then resets the connection
  /nothing                reads the request, then closes without a response
  /resetmid?i=N           1,000 bytes; when N % 10 == 0 a reset after 100 of them
  /short                  promises 100 bytes, sends 10, closes
  /gzip                   a gzip-encoded body (text repeated)
  /chunked?n=N            N chunks of "chunk\\n"
  /bytes?n=N              N bytes of a known pattern
  /echo                   JSON: method, path, headers, body
  /retry-after?s=S        429 with Retry-After: S
  /slowbody?ms=N          headers at once, the body after N ms
  /site/...               a generated site for the crawler (see site_page)
  /robots.txt             Disallow: /site/private/ for every agent
Control port: /stats gives JSON {"requests", "conns_now", "conns_max",
"conns_total", "inflight_max", "paths": {path: count}}; /log the list of
[time, path] of every request; /reset-stats zeroes them all (the maxima
restart from what is open now) and the site delay; POST /robots sets
robots.txt's text; /site-delay?ms=N makes every /site/ page answer after
N ms (requests that overlap, for limits on requests at once).
"""
import gzip
import http.server
import json
import socket
import socketserver
import struct
import sys
import threading
import time
import urllib.parse

LOCK = threading.Lock()
STATS = {"requests": 0, "conns_now": 0, "conns_max": 0, "conns_total": 0, "inflight": 0,
         "inflight_max": 0, "paths": {}}


def bump(key, d):
    with LOCK:
        STATS[key] += d
        mkey = {"conns_now": "conns_max", "inflight": "inflight_max"}.get(key)
        if mkey and STATS[key] > STATS[mkey]:
            STATS[mkey] = STATS[key]


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "eddy-test-origin"

    def log_message(self, fmt, *args):
        pass

    def setup(self):
        super().setup()
        # headers and body go out in separate sends: without this, Nagle's
        # algorithm and the client's delayed ACK add 40 ms to each response
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        bump("conns_now", 1)
        bump("conns_total", 1)

    def finish(self):
        try:
            super().finish()
        finally:
            self.uncount_conn()

    def uncount_conn(self):
        if not getattr(self, "conn_uncounted", False):
            self.conn_uncounted = True
            bump("conns_now", -1)

    def send_body(self, status, body, ctype="text/plain", extra=()):
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        for k, v in extra:
            self.send_header(k, v)
        # the request ends here for the in-flight count: once the last
        # bytes go, the client may start its next request at once
        self.uncount()
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def uncount(self):
        if getattr(self, "counted", False):
            self.counted = False
            bump("inflight", -1)

    def read_body(self):
        n = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(n) if n > 0 else b""

    def abort(self, reset):
        self.uncount()
        self.uncount_conn()  # closed now, before the client can connect again
        if reset:
            self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER,
                                       struct.pack("ii", 1, 0))
        self.close_connection = True
        try:
            self.connection.shutdown(socket.SHUT_RDWR) if not reset else None
        except OSError:
            pass
        self.connection.close()

    def handle_any(self):
        url = urllib.parse.urlsplit(self.path)
        q = dict(urllib.parse.parse_qsl(url.query))
        path = url.path
        with LOCK:
            STATS["requests"] += 1
            STATS["paths"][path] = STATS["paths"].get(path, 0) + 1
            LOG.append((time.monotonic(), self.path))
        bump("inflight", 1)
        self.counted = True
        try:
            self.route(path, q)
        finally:
            self.uncount()

    def route(self, path, q):
        body = self.read_body()
        if path == "/robots.txt":
            return self.send_body(200, ROBOTS.encode())
        if path.startswith("/site"):
            return self.site(path, q)
        if path == "/hello":
            return self.send_body(200, b"hello")
        if path == "/delay":
            time.sleep(int(q.get("ms", "0")) / 1000.0)
            return self.send_body(200, b"delayed")
        if path.startswith("/status/"):
            code = int(path.split("/")[2])
            return self.send_body(code, ("status %d" % code).encode())
        if path.startswith("/redirect/"):
            n = int(path.split("/")[2])
            to = "/hello" if n <= 1 else "/redirect/%d" % (n - 1)
            return self.send_body(302, b"", extra=[("Location", to)])
        if path == "/loop":
            return self.send_body(302, b"", extra=[("Location", "/loop")])
        if path == "/reset":
            return self.abort(True)
        if path == "/resetmid":  # every tenth (by ?i=) resets after part of its body
            if int(q.get("i", "1")) % 10 == 0:
                self.send_response(200)
                self.send_header("Content-Length", "1000")
                self.end_headers()
                self.wfile.write(b"x" * 100)
                self.wfile.flush()
                return self.abort(True)
            return self.send_body(200, b"y" * 1000)
        if path == "/nothing":
            return self.abort(False)
        if path == "/short":
            self.send_response(200)
            self.send_header("Content-Length", "100")
            self.end_headers()
            self.wfile.write(b"0123456789")
            self.wfile.flush()
            return self.abort(False)
        if path == "/gzip":
            raw = b"eddy gzip body " * 200
            if "gzip" in (self.headers.get("Accept-Encoding") or ""):
                return self.send_body(200, gzip.compress(raw),
                                      extra=[("Content-Encoding", "gzip")])
            return self.send_body(200, raw)
        if path == "/chunked":
            n = int(q.get("n", "5"))
            self.send_response(200)
            self.send_header("Content-Type", "text/plain")
            self.send_header("Transfer-Encoding", "chunked")
            self.end_headers()
            for _ in range(n):
                self.wfile.write(b"6\r\nchunk\n\r\n")
            self.wfile.write(b"0\r\n\r\n")
            return None
        if path == "/bytes":
            n = int(q.get("n", "0"))
            return self.send_body(200, bytes((i * 7 + 3) & 0xFF for i in range(n)),
                                  ctype="application/octet-stream")
        if path == "/echo":
            doc = {"method": self.command, "path": self.path,
                   "headers": {k.lower(): v for k, v in self.headers.items()},
                   "body": body.decode("latin-1")}
            return self.send_body(200, json.dumps(doc).encode(), ctype="application/json")
        if path == "/retry-after":
            return self.send_body(429, b"slow down", extra=[("Retry-After", q.get("s", "1"))])
        if path == "/slowbody":
            self.send_response(200)
            self.send_header("Content-Length", "4")
            self.end_headers()
            self.wfile.flush()
            time.sleep(int(q.get("ms", "0")) / 1000.0)
            self.wfile.write(b"body")
            return None
        return self.send_body(404, b"not found")

    def attempt(self):
        """How many times this path was asked for before (since a reset)."""
        with LOCK:
            n = FLAKY.get(self.path, 0)
            FLAKY[self.path] = n + 1
        return n

    def site(self, path, q):
        """The crawler's test site: SITE_PAGES pages /site/p/N linking to
        each other (cycles), relatively and through <base>, plus the odd
        cases: a redirect, a redirect loop, a page robots.txt disallows,
        slow, flaky (503 twice), rate-limited (429 with Retry-After once),
        reset, always 500, gzip and chunked pages, and links that must not
        be followed (off-site, mailto:, javascript:, fragments)."""
        parts = path.split("/")
        if SITE_DELAY[0]:
            time.sleep(SITE_DELAY[0])
        if path.startswith("/site/p/") and parts[3].isdigit():
            return self.send_body(200, site_page(int(parts[3])).encode(), ctype="text/html")
        if path.startswith("/site/redirect/"):
            return self.send_body(301, b"", extra=[("Location", "/site/p/%s" % parts[3])])
        if path == "/site/loop":
            return self.send_body(302, b"", extra=[("Location", "/site/loop2")])
        if path == "/site/loop2":
            return self.send_body(302, b"", extra=[("Location", "/site/loop")])
        if path.startswith("/site/private/"):
            return self.send_body(200, b"<html>secret</html>", ctype="text/html")
        if path == "/site/slow":
            time.sleep(0.2)
            return self.send_body(200, b"<html>slow</html>", ctype="text/html")
        if path == "/site/flaky":
            if self.attempt() < 2:
                return self.send_body(503, b"try again")
            return self.send_body(200, b"<html>flaky ok</html>", ctype="text/html")
        if path == "/site/ratelimited":
            if self.attempt() < 1:
                return self.send_body(429, b"slow down", extra=[("Retry-After", "1")])
            return self.send_body(200, b"<html>ok</html>", ctype="text/html")
        if path == "/site/reset":
            return self.abort(True)
        if path == "/site/500":
            return self.send_body(500, b"broken")
        if path == "/site/gzip":
            raw = ('<html><a href="/site/p/1">one</a>%s</html>' % ("x" * 2000)).encode()
            if "gzip" in (self.headers.get("Accept-Encoding") or ""):
                return self.send_body(200, gzip.compress(raw), ctype="text/html",
                                      extra=[("Content-Encoding", "gzip")])
            return self.send_body(200, raw, ctype="text/html")
        if path == "/site/chunked":
            self.send_response(200)
            self.send_header("Content-Type", "text/html")
            self.send_header("Transfer-Encoding", "chunked")
            self.end_headers()
            for part in ('<html><a href="/site/p/2">two</a>', "</html>"):
                data = part.encode()
                self.wfile.write(b"%x\r\n%s\r\n" % (len(data), data))
            self.wfile.write(b"0\r\n\r\n")
            return None
        if path == "/site/deep":
            depth = int(q.get("n", "1000"))
            html = "<html><body>" + "<div><p>" * depth + \
                "".join('<a href="/site/p/%d">l</a>' % i for i in range(5)) + \
                "</p></div>" * depth + "</body></html>"
            return self.send_body(200, html.encode(), ctype="text/html")
        return self.send_body(404, b"no such page", ctype="text/html")

    do_GET = do_POST = do_PUT = do_DELETE = do_HEAD = do_PATCH = handle_any


ROBOTS = "User-agent: *\nDisallow: /site/private/\n"
FLAKY = {}
SITE_DELAY = [0.0]  # seconds every /site/ request waits (/site-delay)
LOG = []  # (monotonic time, path) of every request to the main port
SITE_PAGES = 60


def site_links(n):
    """The hrefs of page n, in order. Even pages have <base href="/site/x/y/">,
    so their relative link needs two steps up to reach /site/p/M; a crawler
    that ignored <base> would ask for /p/M and get 404s."""
    s = SITE_PAGES
    rel = ("../../p/%d" if n % 2 == 0 else "../p/%d") % ((n * 13 + 5) % s)
    return ["/site/p/%d" % ((n * 7 + 1) % s),      # absolute path
            rel,                                   # relative (to <base> on even pages)
            "/site/p/%d#frag" % ((n * 7 + 1) % s),  # a fragment: the same URL
            "/site/redirect/%d" % ((n + 3) % s)]   # 301 to /site/p/(n+3)


def site_page(n):
    links = site_links(n)
    base = '<base href="/site/x/y/">' if n % 2 == 0 else ""
    extra = ""
    if n == 0:
        extra = ('<a href="/site/loop">loop</a><a href="/site/private/1">secret</a>'
                 '<a href="/site/slow">slow</a><a href="/site/flaky">flaky</a>'
                 '<a href="/site/ratelimited">rl</a><a href="/site/reset">reset</a>'
                 '<a href="/site/500">500</a><a href="/site/gzip">gz</a>'
                 '<a href="/site/chunked">ch</a><a href="http://other.invalid/x">off</a>'
                 '<a href="mailto:a@b.c">mail</a><a href="javascript:void(0)">js</a>'
                 '<a href="/site/missing">404</a>')
    return ('<!DOCTYPE html><html><head><title>p%d</title>%s</head><body>%s%s</body></html>'
            % (n, base, "".join('<a href="%s">x</a>' % h for h in links), extra))


class Control(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, fmt, *args):
        pass

    def do_POST(self):
        global ROBOTS
        n = int(self.headers.get("Content-Length") or 0)
        data = self.rfile.read(n).decode()
        if self.path == "/robots":
            ROBOTS = data
        self.send_response(204)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def do_GET(self):
        with LOCK:
            if self.path == "/reset-stats":
                STATS.update(requests=0, conns_total=0, conns_max=STATS["conns_now"],
                             inflight_max=STATS["inflight"], paths={})
                del LOG[:]
                FLAKY.clear()
                SITE_DELAY[0] = 0.0
            if self.path.startswith("/site-delay?ms="):
                SITE_DELAY[0] = int(self.path.split("=", 1)[1]) / 1000.0
            if self.path == "/log":
                body = json.dumps(LOG).encode()
            else:
                body = json.dumps(STATS).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


class Server(socketserver.ThreadingMixIn, http.server.HTTPServer):
    daemon_threads = True
    request_queue_size = 1024
    allow_reuse_address = True

    def handle_error(self, request, client_address):
        pass  # clients that reset or go away are part of the tests


def main():
    # --bind ADDR: the main port on ADDR instead of loopback (a test whose
    # clients are in other network namespaces); the control port stays on
    # 127.0.0.1
    bind = sys.argv[sys.argv.index("--bind") + 1] if "--bind" in sys.argv[1:-1] else "127.0.0.1"
    main_srv = Server((bind, 0), Handler)
    ctl_srv = Server(("127.0.0.1", 0), Control)
    for s in (main_srv, ctl_srv):
        threading.Thread(target=s.serve_forever, daemon=True).start()
    print("PORTS %d %d" % (main_srv.server_address[1], ctl_srv.server_address[1]), flush=True)
    sys.stdin.read()  # until the test closes our stdin (or exits)


if __name__ == "__main__":
    main()
