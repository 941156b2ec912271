#!/usr/bin/env python3
"""No client can starve a scrape: 1,000 idle connections and 100 clients trickling their
requests a byte at a time (on the HTTPS port: trickling TLS handshakes) are held by the
front door's event loop while scrapes stay fast; under a low fd limit (256) 1,000
connections held open do not lock scrapes out. Default flags otherwise; the process
collector is off so that a scrape measures the server, not the host's page tables."""

import os
import resource
import selectors
import socket
import ssl
import statistics
import threading
import time

from e2e import (Daemon, check, client_context, get, make_certificates, sample, skip, workdir,
                 write)

IDLE = 1000
TRICKLING = 100
SCRAPES = 20
P50_LIMIT_S = 0.100
MAX_LIMIT_S = 0.250


def raise_own_fd_limit(needed):
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < needed:
        if hard != resource.RLIM_INFINITY and hard < needed:
            skip("the fd hard limit %d is below the %d this test needs" % (hard, needed))
        resource.setrlimit(resource.RLIMIT_NOFILE, (needed, hard))


def client_hello():
    """The bytes of a real TLS ClientHello, to trickle without ever finishing it."""
    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    incoming, outgoing = ssl.MemoryBIO(), ssl.MemoryBIO()
    tls = context.wrap_bio(incoming, outgoing, server_hostname="127.0.0.1")
    try:
        tls.do_handshake()
    except ssl.SSLWantReadError:
        pass
    return outgoing.read()


class Load(threading.Thread):
    """Holds `idle` connections that send nothing and `trickling` ones that send `payload`
    one byte per `interval` seconds; a connection the server closes is opened again (at
    most `reopen_per_tick` per tick, as real clients would back off)."""

    def __init__(self, port, idle, trickling, payload, interval=0.1, reopen_per_tick=50):
        super().__init__(daemon=True)
        self.port, self.payload, self.interval = port, payload, interval
        self.reopen_per_tick = reopen_per_tick
        self.selector = selectors.DefaultSelector()
        self.stop_event = threading.Event()
        self.closed_by_server = 0
        self.wanted = [("idle", None)] * idle + [("trickle", None)] * trickling
        self.pending = list(range(len(self.wanted)))  # slots to (re)open
        self.slots = [None] * len(self.wanted)  # socket, bytes sent
        self.open_some(len(self.pending))

    def open_some(self, count):
        for _ in range(min(count, len(self.pending))):
            slot = self.pending.pop()
            try:
                sock = socket.create_connection(("127.0.0.1", self.port), timeout=2)
            except OSError:
                self.pending.append(slot)
                return
            sock.setblocking(False)
            self.slots[slot] = [sock, 0]
            self.selector.register(sock, selectors.EVENT_READ, slot)

    def close_slot(self, slot):
        sock = self.slots[slot][0]
        self.selector.unregister(sock)
        sock.close()
        self.slots[slot] = None
        self.pending.append(slot)

    def run(self):
        next_tick = time.monotonic()
        while not self.stop_event.is_set():
            for key, _ in self.selector.select(timeout=max(0, next_tick - time.monotonic())):
                try:
                    data = key.fileobj.recv(65536)
                except BlockingIOError:
                    continue
                except OSError:
                    data = b""
                if not data:
                    self.closed_by_server += 1
                    self.close_slot(key.data)
            if time.monotonic() < next_tick:
                continue
            next_tick += self.interval
            for slot, (kind, _) in enumerate(self.wanted):
                entry = self.slots[slot]
                if kind != "trickle" or entry is None:
                    continue
                sock, sent = entry
                try:
                    if sent < len(self.payload):
                        sock.send(self.payload[sent:sent + 1])
                        entry[1] += 1
                except OSError:
                    self.closed_by_server += 1
                    self.close_slot(slot)
            self.open_some(self.reopen_per_tick)

    def open_count(self):
        return sum(1 for entry in self.slots if entry is not None)

    def stop(self):
        self.stop_event.set()
        self.join()
        for slot, entry in enumerate(self.slots):
            if entry is not None:
                self.close_slot(slot)


def scrape_latencies(port, context=None):
    latencies, failures = [], []
    for _ in range(SCRAPES):
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


def under_load(daemon, scheme, payload, context=None):
    load = Load(daemon.port, IDLE, TRICKLING, payload)
    load.start()
    time.sleep(1.0)  # every connection accepted, the tricklers under way
    held = load.open_count()
    latencies, failures = scrape_latencies(daemon.port, context)
    text = get(daemon.port, context=context).text()
    load.stop()
    open_connections = sum(sample(text, "memledger_http_connections", '{state="%s"}' % state) or 0
                           for state in ("idle", "handshake", "reading"))
    p50, worst = statistics.median(latencies), max(latencies)
    with open("/proc/loadavg") as f:
        loadavg = f.read().split()[0]
    print("%s: %d scrapes behind %d idle + %d trickling (%d held by the client, %.0f waiting in "
          "the daemon): p50 %.3fs, max %.3fs, %d failures; daemon RSS %d KiB; loadavg %s"
          % (scheme, len(latencies), IDLE, TRICKLING, held, open_connections, p50, worst,
             len(failures), daemon.rss_kib(), loadavg))
    check(held >= IDLE + TRICKLING - 5, "the load generator held only %d connections" % held)
    check(open_connections >= IDLE, "the daemon held only %d waiting connections" % open_connections)
    check(not failures, "%s scrapes failed: %s" % (scheme, failures[:3]))
    check(p50 <= P50_LIMIT_S, "%s scrape p50 %.3fs > %.3fs" % (scheme, p50, P50_LIMIT_S))
    check(worst <= MAX_LIMIT_S, "%s scrape max %.3fs > %.3fs" % (scheme, worst, MAX_LIMIT_S))
    check(daemon.alive(), "daemon died")


raise_own_fd_limit(4 * (IDLE + TRICKLING))
tmp = workdir()
FLAGS = ["--no-collector.process"]
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
