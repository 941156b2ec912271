#!/usr/bin/env python3
"""Slow, idle and malformed clients cannot starve scrapes or crash the daemon: more idle
connections than workers, headers trickled byte by byte, binary junk, huge headers and
bad lengths, on the HTTP port and on the HTTPS port."""

import os
import random
import re
import socket
import ssl
import threading
import time

from e2e import (Daemon, check, client_context, get, make_certificates, raw_exchange, workdir,
                 write)

WORKERS = 4
TIMEOUT_S = 1.0
FLAGS = ["--web.max-requests=%d" % WORKERS, "--web.request-timeout=1s", "--no-collector.process"]
random.seed(5)

JUNK = [
    os.urandom(64 * 1024),
    b"\x00" * 1000 + b"\r\n\r\n",
    b"\r\n\r\n\r\n",
    b"GET /metrics HTTP/9.9\r\n\r\n",
    b"GET /metrics HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * (1 << 20) + b"\r\n\r\n",
    b"GET /metrics HTTP/1.1\r\n" + b"X-Many: v\r\n" * 5000 + b"\r\n",
    b"GET /" + b"a" * 100000 + b" HTTP/1.1\r\n\r\n",
    b"GET /metrics HTTP/1.1\r\nContent-Length: -1\r\n\r\n",
    b"GET /metrics HTTP/1.1\r\nContent-Length: abc\r\n\r\n",
    b"GET /metrics HTTP/1.1\r\nContent-Length: 99999999999999999999999\r\n\r\n",
    b"GET /metrics HTTP/1.1\r\nContent-Length: 5\r\nContent-Length: 7\r\n\r\n12345",
    b"POST /metrics HTTP/1.1\r\nContent-Length: 100\r\n\r\nshort",
    b"GET /metrics HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n\r\n",
    b"GET /metrics HTTP/1.1\r\nAuthorization: Basic " + b"\xff" * 300 + b"\r\n\r\n",
    b"GET /../../../../etc/passwd HTTP/1.1\r\n\r\n",
    b"GET /metrics\x00/x HTTP/1.1\r\n\r\n",
    bytes(random.randrange(256) for _ in range(4096)),
]


def idle_connections(port, count):
    sockets = []
    for _ in range(count):
        sockets.append(socket.create_connection(("127.0.0.1", port), timeout=30))
    return sockets


def trickle(port, stop, context):
    """Sends a request's headers one byte every 0.2 s, reconnecting when dropped; inside a
    TLS session when `context` is given."""
    while not stop.is_set():
        try:
            sock = socket.create_connection(("127.0.0.1", port), timeout=5)
            if context:
                sock = context.wrap_socket(sock, server_hostname="127.0.0.1")
            with sock:
                for byte in b"GET /metrics HTTP/1.1\r\nHost: x\r\nX-Slow: " + b"s" * 1000:
                    if stop.is_set():
                        return
                    sock.send(bytes([byte]))
                    time.sleep(0.2)
        except (OSError, ssl.SSLError):
            pass


def timed_scrape(port, context=None, headers=None):
    start = time.monotonic()
    response = get(port, context=context, headers=headers, timeout=30)
    check(response.status == 200, "scrape answered %d" % response.status)
    return time.monotonic() - start


def starvation(daemon, context=None):
    """Three times as many idle connections as workers plus as many trickling clients: the
    front door holds them all, none reaches a worker, so a real scrape gets in at once."""
    idle = idle_connections(daemon.port, 3 * WORKERS)
    stop = threading.Event()
    tricklers = [threading.Thread(target=trickle, args=(daemon.port, stop, context))
                 for _ in range(WORKERS)]
    for t in tricklers:
        t.start()
    time.sleep(0.3)
    try:
        took = timed_scrape(daemon.port, context)
    finally:
        stop.set()
        for t in tricklers:
            t.join()
        for s in idle:
            s.close()
    return took


def junk(daemon):
    for payload in JUNK:
        start = time.monotonic()
        answer = raw_exchange(daemon.port, payload, timeout=10)
        took = time.monotonic() - start
        check(took < 3 * TIMEOUT_S + 2, "junk %r held the connection %.1fs" % (payload[:40], took))
        check(b"memledger_meminfo_bytes" not in answer or payload.startswith(b"GET /metrics HTTP/1.1"),
              "junk %r got metrics" % payload[:40])
        check(daemon.alive(), "daemon died on junk %r:\n%s" % (payload[:40], daemon.log()))
    answer = raw_exchange(daemon.port, b"GET /../../../../etc/passwd HTTP/1.1\r\n\r\n")
    check(b"root:" not in answer, "path traversal served a file")


def whole_responses(data):
    """The responses in `data`, each checked whole against its Content-Length: statuses."""
    statuses = []
    while data:
        head, sep, rest = data.partition(b"\r\n\r\n")
        check(sep, "truncated response head %r" % data[:80])
        length = int(re.search(rb"(?i)content-length: *(\d+)", head).group(1))
        check(len(rest) >= length, "response cut short: %d of %d bytes" % (len(rest), length))
        statuses.append(int(head.split()[1]))
        data = rest[length:]
    return statuses


def half_closed_exchange(port, payload):
    """Sends `payload`, shuts the sending side at once, reads until the server closes."""
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(payload)
        sock.shutdown(socket.SHUT_WR)
        chunks = []
        while chunk := sock.recv(65536):
            chunks.append(chunk)
        return b"".join(chunks)


def tls_close_notify_exchange(port, payload, context):
    """Sends `payload` inside TLS followed at once by close_notify; returns the answer."""
    sock = socket.create_connection(("127.0.0.1", port), timeout=10)
    incoming, outgoing = ssl.MemoryBIO(), ssl.MemoryBIO()
    tls = context.wrap_bio(incoming, outgoing, server_hostname="127.0.0.1")

    def flush():
        if data := outgoing.read():
            sock.sendall(data)

    while True:
        try:
            tls.do_handshake()
            break
        except ssl.SSLWantReadError:
            flush()
            incoming.write(sock.recv(65536))
    flush()
    tls.write(payload)
    try:
        tls.unwrap()
    except ssl.SSLWantReadError:
        pass
    flush()
    answer = b""
    while chunk := sock.recv(65536):
        incoming.write(chunk)
        try:
            while piece := tls.read(65536):
                answer += piece
        except (ssl.SSLWantReadError, ssl.SSLZeroReturnError):
            pass
    sock.close()
    return answer


SCRAPE = b"GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n"


def framing(daemon):
    """Keep-alive, pipelining and a half-closed client all get whole responses; the front
    door's own answers for what it cannot frame."""
    check(whole_responses(half_closed_exchange(daemon.port, SCRAPE)) == [200],
          "a half-closed client did not get the whole response")
    pipelined = half_closed_exchange(daemon.port, SCRAPE + b"GET /nope HTTP/1.1\r\nHost: x\r\n\r\n"
                                     + b"GET / HTTP/1.1\r\nHost: x\r\n\r\n" + SCRAPE)
    check(whole_responses(pipelined) == [200, 404, 200, 200],
          "pipelined requests: %r" % pipelined[:200])
    with socket.create_connection(("127.0.0.1", daemon.port), timeout=10) as sock:
        for _ in range(3):  # one connection, kept alive between requests
            sock.sendall(SCRAPE)
            data = b""
            while b"# EOF" not in data and not data.endswith(b"memledger_config_last_reload_success_timestamp_seconds"):
                head, _, body = data.partition(b"\r\n\r\n")
                match = re.search(rb"(?i)content-length: *(\d+)", head)
                if match and len(body) >= int(match.group(1)):
                    break
                chunk = sock.recv(65536)
                check(chunk, "keep-alive connection closed after a response")
                data += chunk
            check(whole_responses(data) == [200], "keep-alive response")
    for payload, status in ((b"GET / HTTP/1.1\r\nX-Big: " + b"a" * 9000 + b"\r\n\r\n", 431),
                            (b"POST / HTTP/1.1\r\nContent-Length: 100000\r\n\r\n", 413),
                            (b"GET / HTTP/1.1\r\nContent-Length: x\r\n\r\n", 400),
                            (b"GET / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", 501)):
        answer = raw_exchange(daemon.port, payload)
        check(answer.startswith(b"HTTP/1.1 %d " % status), "%r answered %r" % (payload[:30], answer[:40]))


tmp = workdir()
with Daemon(*FLAGS) as daemon:
    took = starvation(daemon)
    print("HTTP: scrape behind %d idle and %d trickling connections took %.2fs"
          % (3 * WORKERS, WORKERS, took))
    # Held by the front door, not by the 4 workers (one worker each took 3.7 s here).
    check(took < TIMEOUT_S, "scrape starved for %.2fs" % took)
    junk(daemon)
    framing(daemon)
    check(timed_scrape(daemon.port) < 5, "scrape after junk was slow")
    log_lines = daemon.log().count("\n")
    check(log_lines < 10, "junk flooded the log with %d lines:\n%s" % (log_lines, daemon.log()))

certs = make_certificates(tmp)
web = write(os.path.join(tmp, "web.yml"),
            "tls_server_config:\n  cert_file: server.crt\n  key_file: server.key\n")
context = client_context(certs["ca.crt"])
with Daemon("--web.config.file=" + web, *FLAGS) as daemon:
    # Idle TCP connections and idle TLS sessions on the TLS port do not reach the HTTP
    # workers at all: the front door hands them only complete requests.
    idle = idle_connections(daemon.port, 50)
    handshaken = []
    for _ in range(20):
        sock = socket.create_connection(("127.0.0.1", daemon.port), timeout=10)
        handshaken.append(context.wrap_socket(sock, server_hostname="127.0.0.1"))
    took = timed_scrape(daemon.port, context)
    print("HTTPS: scrape behind 50 idle and 20 idle-after-handshake connections took %.2fs" % took)
    check(took < TIMEOUT_S, "HTTPS scrape starved for %.2fs" % took)
    for s in idle + handshaken:
        s.close()

    junk(daemon)
    answer = tls_close_notify_exchange(daemon.port, SCRAPE, context)
    check(whole_responses(answer) == [200], "close_notify cut the response: %r" % answer[:80])
    fake_handshake = b"\x16\x03\x01\x02\x00" + os.urandom(512)
    check(raw_exchange(daemon.port, fake_handshake, timeout=10).find(b"memledger_") < 0,
          "fake handshake got metrics")
    for payload in JUNK[:8]:  # junk inside a real TLS session reaches civetweb's parser
        with context.wrap_socket(socket.create_connection(("127.0.0.1", daemon.port), timeout=10),
                                 server_hostname="127.0.0.1") as tls:
            try:
                tls.sendall(payload)
                while tls.recv(65536):
                    pass
            except (OSError, ssl.SSLError):
                pass
        check(daemon.alive(), "daemon died on junk over TLS %r" % payload[:40])
    took = starvation(daemon, context)
    print("HTTPS: scrape behind %d idle TCP and %d trickling TLS sessions took %.2fs"
          % (3 * WORKERS, WORKERS, took))
    # Trickled requests inside TLS sessions are held by the front door too.
    check(took < TIMEOUT_S, "HTTPS scrape starved for %.2fs" % took)
    check(timed_scrape(daemon.port, context) < 5, "HTTPS scrape after junk was slow")
print("ok")
