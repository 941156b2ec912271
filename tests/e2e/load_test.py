#!/usr/bin/env python3
"""32 clients scraping at once, as many Prometheus servers would: no errors, bounded
latency, and concurrent requests share collections instead of queueing their own."""

import statistics
import threading
import time

from e2e import Daemon, check, get, sample

CLIENTS = 32
REQUESTS_PER_CLIENT = 10

with Daemon() as daemon:
    get(daemon.port)  # warm up
    alone = []
    for _ in range(5):
        start = time.monotonic()
        check(get(daemon.port).status == 200, "sequential scrape failed")
        alone.append(time.monotonic() - start)
    single = statistics.median(alone)

    latencies = []
    errors = []
    lock = threading.Lock()

    def client():
        for _ in range(REQUESTS_PER_CLIENT):
            start = time.monotonic()
            try:
                response = get(daemon.port, timeout=60)
                ok = (response.status == 200
                      and b"memledger_scrape_collector_success" in response.body)
                error = None if ok else "HTTP %d" % response.status
            except Exception as e:  # every failure counts, whatever its kind
                error = repr(e)
            with lock:
                latencies.append(time.monotonic() - start)
                if error:
                    errors.append(error)

    before = get(daemon.port).text()
    threads = [threading.Thread(target=client) for _ in range(CLIENTS)]
    started = time.monotonic()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    wall = time.monotonic() - started
    after = get(daemon.port).text()

    requests = sample(after, "memledger_scrape_requests_total") - sample(before, "memledger_scrape_requests_total")
    collections = (sample(after, "memledger_scrape_collections_total")
                   - sample(before, "memledger_scrape_collections_total"))
    latencies.sort()
    p50 = latencies[len(latencies) // 2]
    p99 = latencies[int(len(latencies) * 0.99)]
    print("single scrape %.3fs; %d clients x %d: wall %.1fs, p50 %.3fs, p99 %.3fs, max %.3fs, "
          "%d requests, %d collections, %d errors"
          % (single, CLIENTS, REQUESTS_PER_CLIENT, wall, p50, p99, latencies[-1], requests,
             collections, len(errors)))
    check(not errors, "errors: %s" % errors[:5])
    check(len(latencies) == CLIENTS * REQUESTS_PER_CLIENT, "missing responses")
    # Each collection is shared by the requests that arrive while it runs: with 8 workers
    # a request waits for at most a few collections, never for 32 of them.
    check(collections * 2 < requests, "collections were not shared: %d for %d requests"
          % (collections, requests))
    check(latencies[-1] < max(8 * single, 1.0) + 1.0,
          "max latency %.3fs is unbounded next to %.3fs for one scrape" % (latencies[-1], single))
    check(daemon.alive(), "daemon died")
print("ok")
