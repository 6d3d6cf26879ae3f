#!/usr/bin/env bash
# Installs what eddy needs to build, test and benchmark on Debian 12.
# Run as root (CI does), or with sudo.
set -euo pipefail
SUDO=""
if [ "$(id -u)" != 0 ]; then SUDO="sudo"; fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -q -o DPkg::Lock::Timeout=600
# libhiredis-dev and redis-server: the Redis example, eddy-crawl's shared
# frontier and their tests (tests/integration/test_redis.c,
# tests/crawl/test_crawl_redis.py), which start their own server on a free
# loopback port; iproute2: that test's run in network namespaces (root). Where services may start (systemd, or no policy-rc.d in a
# container), the package also starts the system's server on
# 127.0.0.1:6379; nothing here uses it, and it is left alone.
# python3: the local HTTP origin of the client and crawler tests
# (tests/http/origin.py, the standard library only). libxml2-dev and
# libjansson-dev: eddy-crawl (HTML links, JSON lines). nghttp2-server and
# openssl: the HTTP/2 test (nghttpd over TLS with a certificate made there).
# clang and libclang-rt-dev (its sanitizer and libFuzzer runtimes, only a
# recommendation of clang's): the request parser's libFuzzer target
# (tools/fuzz.sh). gnuplot-nox: the three-model suite's plots (eddy-bench
# models: SVG and PNG, no X).
$SUDO apt-get install -y -q --no-install-recommends -o DPkg::Lock::Timeout=600 \
    build-essential cmake pkg-config ca-certificates clang libclang-rt-dev \
    libcmocka-dev libjemalloc-dev libbenchmark-dev \
    libcurl4-openssl-dev liburing-dev doxygen node-llhttp \
    libhiredis-dev redis-server iproute2 python3 libxml2-dev libjansson-dev \
    nghttp2-server openssl gnuplot-nox
