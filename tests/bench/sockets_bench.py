"""Cost of the sockets collector on this machine: the median of its
memledger_scrape_collector_duration_seconds over --once runs, with the host's sockets as
they are and with CONNECTIONS extra loopback TCP connections (each end a socket with a
descriptor). Each --once run scans every /proc/<pid>/fd (the scan is shared with shmem,
which is left off here so the sockets collector pays for it).

    python3 tests/bench/sockets_bench.py EXPORTER [RUNS] [CONNECTIONS]
"""

import os
import re
import resource
import socket
import statistics
import subprocess
import sys


def duration(exporter):
    out = subprocess.run([exporter, "--once", "--no-collector.process", "--no-collector.shmem",
                          "--no-collector.pagecensus"], stdout=subprocess.PIPE,
                         stderr=subprocess.DEVNULL, check=True, timeout=120).stdout.decode()
    return float(re.search(r'^memledger_scrape_collector_duration_seconds\{collector="sockets"\} (\S+)$',
                           out, re.MULTILINE).group(1))


def median_ms(exporter, runs):
    return statistics.median(duration(exporter) for _ in range(runs)) * 1000


def main():
    exporter = sys.argv[1]
    runs = int(sys.argv[2]) if len(sys.argv) > 2 else 15
    connections = int(sys.argv[3]) if len(sys.argv) > 3 else 2000
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard != resource.RLIM_INFINITY:
        connections = min(connections, (hard - 64) // 2)  # two descriptors per connection
    resource.setrlimit(resource.RLIMIT_NOFILE, (max(soft, 2 * connections + 64), hard))
    print("load average %.2f" % os.getloadavg()[0])
    print("sockets collector, host as is:          median %.1f ms over %d runs" % (median_ms(exporter, runs), runs))
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(connections)
    keep = []
    for _ in range(connections):
        keep.append(socket.create_connection(listener.getsockname()))
        keep.append(listener.accept()[0])
    print("with %d more loopback connections:    median %.1f ms over %d runs"
          % (connections, median_ms(exporter, runs), runs))
    for s in keep:
        s.close()
    listener.close()


if __name__ == "__main__":
    main()
