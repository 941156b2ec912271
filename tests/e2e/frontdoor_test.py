#!/usr/bin/env python3
"""No client can starve a scrape: 1,000 idle connections and 100 clients trickling their
requests a byte at a time (on the HTTPS port: trickling TLS handshakes) are held by the
front door's event loop while scrapes stay fast; under a low fd limit (256) 1,000
connections held open do not lock scrapes out. The process collector is off so that a
scrape measures the server, not the host's page tables."""

import os
import statistics
import time

from e2e import (Daemon, Load, check, client_context, client_hello, get, make_certificates,
                 raise_own_fd_limit, sample, workdir, write)

IDLE = 1000
TRICKLING = 100
SCRAPES = 20
P50_LIMIT_S = 0.100
MAX_LIMIT_S = 0.250
ATTEMPTS = 3


def scrape_latencies(port, context=None, count=SCRAPES):
    latencies, failures = [], []
    for _ in range(count):
        start = time.monotonic()
        try:
            response = get(port, context=context, timeout=5)
            if response.status != 200 or b"memledger_meminfo_bytes" not in response.body:
                failures.append("HTTP %d" % response.status)
        except Exception as e:  # every failure counts, whatever its kind
            failures.append(repr(e))
        latencies.append(time.monotonic() - start)
        time.sleep(0.2)
    return latencies, failures


def limits(port, context=None):
    """The latency targets, p50 and max: the issue's on an idle machine; on one slowed by
    other work, three times what lone scrapes take there and then (a thread or a worker per
    connection still misses them by seconds, or fails)."""
    alone, failures = scrape_latencies(port, context, count=10)
    check(not failures, "lone scrapes failed: %s" % failures[:3])
    return (max(P50_LIMIT_S, 3 * statistics.median(alone)), max(MAX_LIMIT_S, 3 * max(alone)),
            statistics.median(alone), max(alone))


def under_load(daemon, scheme, payload, context=None):
    """Scrapes under the load; a miss of the latency limits alone (no failure) is measured
    again, up to ATTEMPTS times in all, since other work on the machine can stall any
    process for a second or more. A failed scrape fails at once."""
    for attempt in range(1, ATTEMPTS + 1):
        p50_limit, max_limit, alone_p50, alone_max = limits(daemon.port, context)
        load = Load(daemon.port, IDLE, TRICKLING, payload)
        load.start()
        time.sleep(1.0)  # every connection accepted, the tricklers under way
        held = load.open_count()
        latencies, failures = scrape_latencies(daemon.port, context)
        check(not failures, "%s: %d of %d scrapes failed under the load: %s"
              % (scheme, len(failures), len(latencies), failures[:2]))
        text = get(daemon.port, context=context).text()
        load.stop()
        waiting = sum(sample(text, "memledger_http_connections", '{state="%s"}' % state) or 0
                      for state in ("idle", "handshake", "reading"))
        p50, worst = statistics.median(latencies), max(latencies)
        with open("/proc/loadavg") as f:
            loadavg = f.read().split()[0]
        print("%s: %d scrapes behind %d idle + %d trickling (%d held by the client, %.0f waiting "
              "in the daemon): p50 %.3fs, max %.3fs, %d failures (alone: p50 %.3fs, max %.3fs; "
              "limits %.3fs, %.3fs); daemon RSS %d KiB; loadavg %s"
              % (scheme, len(latencies), IDLE, TRICKLING, held, waiting, p50, worst,
                 len(failures), alone_p50, alone_max, p50_limit, max_limit, daemon.rss_kib(),
                 loadavg))
        check(held >= IDLE + TRICKLING - 5, "the load generator held only %d connections" % held)
        check(waiting >= IDLE, "the daemon held only %d waiting connections" % waiting)
        check(daemon.alive(), "daemon died")
        if p50 <= p50_limit and worst <= max_limit:
            return
        check(attempt < ATTEMPTS, "%s scrapes: p50 %.3fs (limit %.3fs), max %.3fs (limit %.3fs) "
              "in %d attempts" % (scheme, p50, p50_limit, worst, max_limit, ATTEMPTS))
        print("%s: latency above the limits, measuring again" % scheme)


raise_own_fd_limit(4 * (IDLE + TRICKLING))
tmp = workdir()
# A request timeout longer than the test, so that the load stays held throughout (with the
# default 10 s, idle connections would be dropped and reopened midway on a slow machine).
FLAGS = ["--no-collector.process", "--web.request-timeout=1m"]
trickled_request = b"GET /metrics HTTP/1.1\r\nHost: x\r\nX-Slow: " + b"s" * 1000

with Daemon(*FLAGS) as daemon:
    under_load(daemon, "HTTP", trickled_request)

certs = make_certificates(tmp)
web = write(os.path.join(tmp, "web.yml"),
            "tls_server_config:\n  cert_file: server.crt\n  key_file: server.key\n")
with Daemon("--web.config.file=" + web, *FLAGS) as daemon:
    under_load(daemon, "HTTPS", client_hello(), client_context(certs["ca.crt"]))

# A low fd limit: the daemon fits --web.max-connections within it and, when full, closes
# the oldest connection still waiting for a request, so a scrape always gets in.
with Daemon(*FLAGS, wrapper=("prlimit", "--nofile=256:256", "--")) as daemon:
    held_limit = sample(get(daemon.port).text(), "memledger_http_max_connections")
    check(held_limit is not None and held_limit < 256,
          "max connections %s not fitted within 256 descriptors" % held_limit)
    load = Load(daemon.port, IDLE, 0, b"", reopen_per_tick=20)
    load.start()
    time.sleep(1.0)
    latencies, failures = scrape_latencies(daemon.port)
    text = get(daemon.port).text()
    load.stop()
    refused = sample(text, "memledger_http_connections_refused_total", '{reason="limit"}')
    print("fd limit 256 (max connections %d): %d scrapes behind %d connection attempts: p50 "
          "%.3fs, max %.3fs, %d failures; %d closed at the limit"
          % (held_limit, len(latencies), IDLE, statistics.median(latencies), max(latencies),
             len(failures), refused))
    check(not failures, "scrapes failed under the fd limit: %s" % failures[:3])
    check(refused >= IDLE - held_limit, "only %d connections closed at the limit" % refused)
    time.sleep(0.5)
    check(daemon.fd_count() < 64, "descriptors not released: %d" % daemon.fd_count())
    check(get(daemon.port).status == 200, "no scrape after the load")
    lines = daemon.log().count("\n")
    check(lines < 5, "the fd limit flooded the log:\n" + daemon.log())
print("ok")
