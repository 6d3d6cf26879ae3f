#!/usr/bin/env python3
"""Writes a static site for the crawler benchmark: N pages of about 10 KB of
HTML, each linking to LINKS other pages (a deterministic random graph that
reaches every page from page 0: page i links to i+1 first).

  gen_site.py DIR N [LINKS=10]
"""
import os
import random
import sys


def main():
    out, n = sys.argv[1], int(sys.argv[2])
    links = int(sys.argv[3]) if len(sys.argv) > 3 else 10
    os.makedirs(out, exist_ok=True)
    rnd = random.Random(1)
    filler = ("<p>" + "lorem ipsum dolor sit amet, consectetur adipiscing elit. " * 3 + "</p>\n")
    for i in range(n):
        targets = [(i + 1) % n] + [rnd.randrange(n) for _ in range(links - 1)]
        body = "".join('<li><a href="/p/%d.html">page %d</a></li>\n' % (t, t) for t in targets)
        html = ("<!DOCTYPE html>\n<html><head><title>page %d</title></head><body>\n"
                "<h1>page %d</h1>\n<ul>\n%s</ul>\n" % (i, i, body))
        while len(html) < 10000:
            html += filler
        html += "</body></html>\n"
        if i == 0:
            os.makedirs(os.path.join(out, "p"), exist_ok=True)
        with open(os.path.join(out, "p", "%d.html" % i), "w") as f:
            f.write(html)


if __name__ == "__main__":
    main()
