#!/usr/bin/env python3
"""Soak: thousands of scrapes leave the daemon's resident memory and open file
descriptors flat. Scrapes go over HTTPS with basic auth (TLS relay threads, the auth
cache) or plain HTTP, each on a fresh connection, after a concurrent warm-up that has
every worker thread allocate once. tests/soak/soak.sh runs the long version."""

import argparse
import os
import threading
import time

from e2e import (S3CRET_HASH, Daemon, basic_auth, check, client_context, get, make_certificates,
                 workdir, write)

parser = argparse.ArgumentParser()
parser.add_argument("--scrapes", type=int, default=1500)
parser.add_argument("--warmup", type=int, default=300)
parser.add_argument("--max-rss-growth-kib", type=int, default=1024)
parser.add_argument("--plain-http", action="store_true", help="HTTP instead of HTTPS + auth")
parser.add_argument("daemon_flags", nargs="*",
                    help="extra daemon flags after --, e.g. -- --no-collector.process")
args = parser.parse_args()

tmp = workdir()
flags = list(args.daemon_flags)
context = None
headers = None
if not args.plain_http:
    certs = make_certificates(tmp)
    web = write(os.path.join(tmp, "web.yml"),
                "tls_server_config:\n  cert_file: server.crt\n  key_file: server.key\n"
                "basic_auth_users:\n  prometheus: " + S3CRET_HASH + "\n")
    flags.append("--web.config.file=" + web)
    context = client_context(certs["ca.crt"])
    headers = basic_auth("prometheus", "s3cret")

with Daemon(*flags) as daemon:
    def scrape():
        response = get(daemon.port, context=context, headers=headers)
        check(response.status == 200, "scrape answered %d" % response.status)

    def warm(count):
        for _ in range(count):
            scrape()

    threads = [threading.Thread(target=warm, args=(args.warmup // 8,)) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    time.sleep(1.5)  # lets keep-alive connections and relay threads wind down
    rss_before, fds_before = daemon.rss_kib(), daemon.fd_count()
    start = time.monotonic()
    peak = rss_before
    series = []  # RSS every tenth of the run: a leak climbs, allocator noise wanders
    for i in range(args.scrapes):
        scrape()
        if i % 100 == 0:
            peak = max(peak, daemon.rss_kib())
        if (i + 1) % max(args.scrapes // 10, 1) == 0:
            series.append(daemon.rss_kib())
    took = time.monotonic() - start
    time.sleep(1.5)
    rss_after, fds_after = daemon.rss_kib(), daemon.fd_count()
    print("%d scrapes (%s) in %.0fs: RSS %d -> %d KiB (%+d KiB, peak %d), fds %d -> %d"
          % (args.scrapes, "HTTP" if args.plain_http else "HTTPS + basic auth", took, rss_before,
             rss_after, rss_after - rss_before, peak, fds_before, fds_after))
    print("RSS every %d scrapes (KiB): %s" % (max(args.scrapes // 10, 1), " ".join(map(str, series))))
    check(rss_after - rss_before <= args.max_rss_growth_kib,
          "RSS grew by %d KiB" % (rss_after - rss_before))
    check(fds_after == fds_before, "file descriptors went from %d to %d" % (fds_before, fds_after))
print("ok")
