#!/usr/bin/env python3
"""The front door's benchmark (`make bench`): scrape latency of memledger_exporter under
1,000 idle and 100 trickling connections, next to node_exporter's under the same load in
the same run, over HTTP and HTTPS (trickling TLS handshakes); then the daemon's memory
holding 10,000 idle connections (fd limit raised), in bytes per connection.

Both daemons run with their default flags on loopback ports. Prints a Markdown table."""
import argparse
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "e2e"))
import e2e  # noqa: E402


# Opens argv[3] idle connections to port argv[2], prints how many, holds them until stdin closes.
HOLDER = """
import sys
sys.path.insert(0, sys.argv[1])
import e2e
e2e.raise_own_fd_limit(int(sys.argv[3]) + 1000)
load = e2e.Load(int(sys.argv[2]), int(sys.argv[3]), 0, b"", reopen_per_tick=0)
load.start()
print(load.open_count(), flush=True)
sys.stdin.read()
load.stop()
"""


def free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class External:
    """A peer daemon on a loopback port (node_exporter), stopped at the end."""

    def __init__(self, argv, port):
        self.port = port
        self.process = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                return
            except OSError:
                time.sleep(0.05)
        raise SystemExit("%s did not start listening" % argv[0])

    def rss_kib(self):
        with open("/proc/%d/status" % self.process.pid) as f:
            return int(next(l for l in f if l.startswith("VmRSS:")).split()[1])

    def stop(self):
        self.process.terminate()
        self.process.wait(timeout=10)


def scrape(port, context, count, path="/metrics"):
    latencies, failures = [], 0
    for _ in range(count):
        start = time.monotonic()
        try:
            ok = e2e.get(port, path, context=context, timeout=30).status == 200
        except Exception:
            ok = False
        latencies.append(time.monotonic() - start)
        failures += not ok
        time.sleep(0.2)
    return latencies, failures


def under_load(name, port, context, payload, args):
    alone, _ = scrape(port, context, 5)
    load = e2e.Load(port, args.idle, args.trickling, payload)
    load.start()
    time.sleep(1.0)
    latencies, failures = scrape(port, context, args.scrapes)
    load.stop()
    latencies.sort()
    return ("| %s | %.3f | %.3f | %.3f | %d of %d |"
            % (name, statistics.median(alone), latencies[len(latencies) // 2], latencies[-1],
               failures, len(latencies)))


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--exporter", required=True)
    parser.add_argument("--idle", type=int, default=1000)
    parser.add_argument("--trickling", type=int, default=100)
    parser.add_argument("--scrapes", type=int, default=15)
    parser.add_argument("--memory-connections", type=int, default=10000)
    args = parser.parse_args()
    e2e.BINARY = os.path.abspath(args.exporter)
    e2e.raise_own_fd_limit(args.memory_connections + 1000)
    tmp = tempfile.mkdtemp(prefix="memledger-frontdoor-bench-")
    certs = e2e.make_certificates(tmp)
    web = e2e.write(os.path.join(tmp, "web.yml"),
                    "tls_server_config:\n  cert_file: server.crt\n  key_file: server.key\n")
    context = e2e.client_context(certs["ca.crt"])
    request = b"GET /metrics HTTP/1.1\r\nHost: x\r\nX-Slow: " + b"s" * 1000
    hello = e2e.client_hello()
    rows = []
    with e2e.Daemon() as daemon:
        rows.append(under_load("memledger_exporter, HTTP", daemon.port, None, request, args))
    with e2e.Daemon("--web.config.file=" + web) as daemon:
        rows.append(under_load("memledger_exporter, HTTPS", daemon.port, context, hello, args))
    node_exporter = shutil.which("prometheus-node-exporter")
    if node_exporter:
        port = free_port()
        peer = External([node_exporter, "--web.listen-address=127.0.0.1:%d" % port], port)
        rows.append(under_load("node_exporter, HTTP", port, None, request, args))
        peer.stop()
        with open(os.path.join(tmp, "node.yml"), "w") as f:
            f.write("tls_server_config:\n  cert_file: %s\n  key_file: %s\n"
                    % (certs["server.crt"], certs["server.key"]))
        port = free_port()
        peer = External([node_exporter, "--web.listen-address=127.0.0.1:%d" % port,
                         "--web.config.file=" + os.path.join(tmp, "node.yml")], port)
        rows.append(under_load("node_exporter, HTTPS", port, context, hello, args))
        peer.stop()

    n = args.memory_connections
    with e2e.Daemon("--web.max-connections=%d" % (n + 100), "--web.request-timeout=2m") as daemon:
        e2e.get(daemon.port)
        time.sleep(0.5)
        before = daemon.rss_kib()
        # The connections' client side lives in a process of its own: each side then needs
        # n descriptors, within a hard limit that only CAP_SYS_RESOURCE could raise.
        holder = subprocess.Popen(
            [sys.executable, "-c", HOLDER, os.path.dirname(e2e.__file__), str(daemon.port), str(n)],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        held = int(holder.stdout.readline())
        time.sleep(1.0)
        after = daemon.rss_kib()
        fds = daemon.fd_count()
        holder.stdin.close()
        holder.wait(timeout=30)
    with open("/proc/loadavg") as f:
        loadavg = " ".join(f.read().split()[:3])
    print("%d idle + %d trickling connections held open; %d scrapes each, one every 0.2 s, a new "
          "connection each; load average %s\n" % (args.idle, args.trickling, args.scrapes, loadavg))
    print("| daemon | lone scrape p50 (s) | p50 under load (s) | max under load (s) | failures |")
    print("|---|---|---|---|---|")
    print("\n".join(rows))
    print("\nmemledger_exporter holding %d idle connections (%d descriptors): RSS %d -> %d KiB, "
          "%d bytes per connection" % (held, fds, before, after,
                                        (after - before) * 1024 // max(held, 1)))
    shutil.rmtree(tmp, True)


main()
