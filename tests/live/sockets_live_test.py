"""Live tests of the sockets collector on the running kernel (root; exit 77 = skipped).

    sockets_live_test.py tcp    16-32 loopback TCP connections hold ~128 MiB that the peer
                                never reads, from a child with a distinctive comm: the
                                collector names that group with at least 80% of the bytes
                                written, sockstat TCP rises as much; closing brings both back
    sockets_live_test.py unix   the same with unix stream socket pairs (~64 MiB)

MEMLEDGER_BINARY names the exporter. The child is stopped by closing its stdin.
"""

import os
import subprocess
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "e2e"))
from e2e import BINARY, check, fail, sample, skip  # noqa: E402

MiB = 1024 * 1024
PR_SET_NAME = 15

# The child: sockets whose written data nobody reads. SO_SNDBUFFORCE / SO_RCVBUFFORCE (root)
# lift the per-socket limits so a few sockets hold the target; writes stop at EAGAIN.
CHILD = r"""
import ctypes, errno, socket, sys
SO_SNDBUFFORCE, SO_RCVBUFFORCE = 32, 33
kind, comm, target = sys.argv[1], sys.argv[2].encode(), int(sys.argv[3])
ctypes.CDLL(None).prctl(%d, comm, 0, 0, 0)
keep, written, chunk = [], 0, b"x" * 65536
def fill(sock):
    global written
    sock.setblocking(False)
    while written < target:
        try:
            written += sock.send(chunk[:min(len(chunk), target - written)])
        except BlockingIOError:
            return
for _ in range(64):
    if written >= target:
        break
    if kind == "tcp":
        listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        listener.setsockopt(socket.SOL_SOCKET, SO_RCVBUFFORCE, 4 << 20)
        listener.bind(("127.0.0.1", 0))
        listener.listen(1)
        writer = socket.create_connection(listener.getsockname())
        reader, _ = listener.accept()
        listener.close()
    else:
        writer, reader = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
    writer.setsockopt(socket.SOL_SOCKET, SO_SNDBUFFORCE, 8 << 20)
    keep += [writer, reader]
    fill(writer)
print(written, flush=True)
sys.stdin.read()
""" % PR_SET_NAME


def scrape():
    result = subprocess.run([BINARY, "--once", "--no-collector.process", "--no-collector.pagecensus"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=120)
    check(result.returncode == 0, "--once exited with %d: %s" % (result.returncode, result.stderr))
    text = result.stdout.decode(errors="replace")
    check(sample(text, "memledger_scrape_collector_success", '{collector="sockets"}') == 1,
          "the sockets collector failed: " + result.stderr.decode(errors="replace"))
    return text


def group_bytes(text, group, protocol):
    return sample(text, "memledger_socket_memory_bytes", '{group="%s",protocol="%s"}' % (group, protocol)) or 0


def main():
    if len(sys.argv) != 2 or sys.argv[1] not in ("tcp", "unix"):
        fail("usage: sockets_live_test.py tcp|unix")
    kind = sys.argv[1]
    if os.geteuid() != 0:
        skip("needs root: SO_SNDBUFFORCE, and other processes' descriptors")
    check(BINARY and os.path.exists(BINARY), "MEMLEDGER_BINARY is not set")
    comm = "mlsock" + kind
    target = 128 * MiB if kind == "tcp" else 64 * MiB
    sockstat = "TCP" if kind == "tcp" else None

    before = scrape()
    child = subprocess.Popen([sys.executable, "-c", CHILD, kind, comm, str(target)],
                             stdin=subprocess.PIPE, stdout=subprocess.PIPE)
    try:
        written = int(child.stdout.readline())
        check(written >= target // 2, "the child queued only %d bytes" % written)
        during = scrape()
    finally:
        child.stdin.close()
        child.wait(timeout=60)
    after = scrape()

    held = group_bytes(during, comm, kind)
    print("%s: written %.1f MiB, group %s holds %.1f MiB" % (kind, written / MiB, comm, held / MiB))
    check(held >= 0.8 * written, "group %s holds %d bytes of %d written" % (comm, held, written))
    check(group_bytes(after, comm, kind) == 0, "group %s still holds memory after close" % comm)
    if sockstat:
        rise = (sample(during, "memledger_sockstat_memory_bytes", '{protocol="%s"}' % sockstat) -
                sample(before, "memledger_sockstat_memory_bytes", '{protocol="%s"}' % sockstat))
        print("sockstat %s rose by %.1f MiB" % (sockstat, rise / MiB))
        check(rise >= 0.8 * written, "sockstat %s rose by %d bytes of %d written" % (sockstat, rise, written))
        back = (sample(after, "memledger_sockstat_memory_bytes", '{protocol="%s"}' % sockstat) -
                sample(before, "memledger_sockstat_memory_bytes", '{protocol="%s"}' % sockstat))
        check(back < 0.2 * written, "sockstat %s is still %d bytes up after close" % (sockstat, back))
    print("ok")


if __name__ == "__main__":
    main()
