"""Helpers for the end-to-end tests: start the daemon on a loopback port, talk HTTP(S)
to it, read its memory and file descriptors. Standard library only."""

import atexit
import base64
import gzip
import http.client
import os
import re
import resource
import selectors
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import tempfile
import threading
import time

SKIP = 77  # CTest's SKIP_RETURN_CODE for these tests

BINARY = os.environ.get("MEMLEDGER_BINARY", "")
SOURCE_DIR = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def fail(message):
    print("FAIL: " + message, file=sys.stderr)
    sys.exit(1)


def check(condition, message):
    if not condition:
        fail(message)


def skip(message):
    print("SKIP: " + message)
    sys.exit(SKIP)


def require_binary(name):
    path = shutil.which(name)
    if not path:
        skip(name + " is not installed")
    return path


def workdir():
    """A temporary directory removed at exit."""
    path = tempfile.mkdtemp(prefix="memledger-e2e-")
    atexit.register(shutil.rmtree, path, True)
    return path


class Daemon:
    """memledger_exporter on 127.0.0.1:<ephemeral port>, stopped (and checked) on exit."""

    def __init__(self, *args, binary=None, wrapper=()):
        """`wrapper`: a command line the daemon runs under, e.g. setpriv's."""
        self.binary = binary or BINARY
        check(self.binary and os.path.exists(self.binary), "MEMLEDGER_BINARY not set or missing")
        self.log_file = tempfile.NamedTemporaryFile(prefix="memledger-e2e-", suffix=".log")
        argv = list(wrapper) + [self.binary, "--web.listen-address=127.0.0.1:0"] + list(args)
        self.process = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=self.log_file)
        self.port = None
        self._wait_listening()

    def _wait_listening(self):
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            match = re.search(r"msg=listening address=\S+:(\d+)", self.log())
            if match:
                self.port = int(match.group(1))
                return
            if self.process.poll() is not None:
                fail("daemon exited with %d:\n%s" % (self.process.returncode, self.log()))
            time.sleep(0.02)
        fail("daemon did not start listening:\n" + self.log())

    def log(self):
        with open(self.log_file.name, encoding="utf-8", errors="replace") as f:
            return f.read()

    def alive(self):
        return self.process.poll() is None

    def signal(self, sig):
        self.process.send_signal(sig)

    def reload(self, expect_success):
        """SIGHUP, then wait for the log line that says how the reload went."""
        marker = ("configuration reloaded" if expect_success
                  else "configuration reload failed")
        before = self.log().count(marker)
        self.signal(signal.SIGHUP)
        deadline = time.monotonic() + 10
        while self.log().count(marker) == before:
            check(time.monotonic() < deadline, "no '%s' log line:\n%s" % (marker, self.log()))
            check(self.alive(), "daemon died on SIGHUP:\n" + self.log())
            time.sleep(0.02)

    def stop(self):
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                fail("daemon did not stop on SIGTERM:\n" + self.log())
        check(self.process.returncode == 0,
              "daemon exited with %s:\n%s" % (self.process.returncode, self.log()))

    def rss_kib(self):
        with open("/proc/%d/status" % self.process.pid) as f:
            return int(re.search(r"VmRSS:\s+(\d+) kB", f.read()).group(1))

    def mapped_files(self):
        """The base names of the files the daemon has mapped (its libraries)."""
        with open("/proc/%d/maps" % self.process.pid) as f:
            return {os.path.basename(fields[5]) for fields in (line.split() for line in f)
                    if len(fields) == 6 and fields[5].startswith("/")}

    def fd_count(self):
        return len(os.listdir("/proc/%d/fd" % self.process.pid))

    def listening_ports(self):
        """Every TCP port the daemon listens on (the TLS relay's loopback port too)."""
        inodes = set()
        for fd in os.listdir("/proc/%d/fd" % self.process.pid):
            try:
                target = os.readlink("/proc/%d/fd/%s" % (self.process.pid, fd))
            except OSError:
                continue
            if target.startswith("socket:["):
                inodes.add(target[8:-1])
        ports = set()
        for table in ("/proc/net/tcp", "/proc/net/tcp6"):
            with open(table) as f:
                for line in f.readlines()[1:]:
                    fields = line.split()
                    if fields[3] == "0A" and fields[9] in inodes:  # LISTEN
                        ports.add(int(fields[1].rsplit(":", 1)[1], 16))
        return ports

    def __enter__(self):
        return self

    def __exit__(self, kind, value, traceback):
        if kind is None:
            self.stop()
        elif self.process.poll() is None:
            self.process.kill()
            print(self.log(), file=sys.stderr)


class Response:
    def __init__(self, status, headers, body):
        self.status = status
        self.headers = headers
        self.body = body

    def text(self):
        body = self.body
        if self.headers.get("content-encoding") == "gzip":
            body = gzip.decompress(body)
        return body.decode("utf-8")


def get(port, path="/metrics", headers=None, method="GET", context=None, timeout=30):
    """One request on a fresh connection; HTTPS when `context` (an ssl.SSLContext) is given."""
    if context is None:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    else:
        conn = http.client.HTTPSConnection("127.0.0.1", port, timeout=timeout, context=context)
    try:
        conn.request(method, path, headers=headers or {})
        response = conn.getresponse()
        body = response.read()
        return Response(response.status, {k.lower(): v for k, v in response.getheaders()}, body)
    finally:
        conn.close()


def basic_auth(user, password):
    token = base64.b64encode(("%s:%s" % (user, password)).encode()).decode()
    return {"Authorization": "Basic " + token}


def raw_exchange(port, payload, timeout=5.0, read=True):
    """Sends raw bytes, returns what comes back before the server closes or `timeout`."""
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as sock:
        try:
            sock.sendall(payload)
        except OSError:
            return b""
        if not read:
            return b""
        chunks = []
        try:
            while True:
                chunk = sock.recv(65536)
                if not chunk:
                    break
                chunks.append(chunk)
        except (socket.timeout, ConnectionResetError):
            pass
        return b"".join(chunks)


def promtool_check(text):
    """`promtool check metrics` output (stdout + stderr) and exit code."""
    promtool = require_binary("promtool")
    result = subprocess.run([promtool, "check", "metrics"], input=text.encode(),
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=60)
    return result.returncode, result.stdout.decode(errors="replace")


def sample(text, name, labels=""):
    """The value of one sample in an exposition, or None."""
    pattern = r"^%s%s (\S+)$" % (re.escape(name), re.escape(labels))
    match = re.search(pattern, text, re.MULTILINE)
    return float(match.group(1)) if match else None


# bcrypt (cost 10) of "s3cret", made with libxcrypt.
S3CRET_HASH = "$2b$10$53fjLy8Z6civSrTn7DQJSu48JI3.EXdyVc1L9BC4CCMdLzYhXrU6S"


def make_certificates(directory):
    """A CA, a server certificate for 127.0.0.1/localhost and a client certificate
    signed by the CA, plus a self-signed client certificate no CA vouches for."""
    openssl = require_binary("openssl")
    os.makedirs(directory, exist_ok=True)

    def run(*args):
        subprocess.run([openssl] + list(args), cwd=directory, check=True,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

    run("req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
        "-keyout", "ca.key", "-out", "ca.crt", "-days", "2", "-subj", "/CN=memledger test CA")
    for name, extensions in (("server", "subjectAltName=DNS:localhost,IP:127.0.0.1"),
                             ("client", "extendedKeyUsage=clientAuth")):
        run("req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
            "-keyout", name + ".key", "-out", name + ".csr", "-subj", "/CN=" + name)
        with open(os.path.join(directory, name + ".ext"), "w") as f:
            f.write(extensions + "\n")
        run("x509", "-req", "-in", name + ".csr", "-CA", "ca.crt", "-CAkey", "ca.key",
            "-CAcreateserial", "-out", name + ".crt", "-days", "2", "-extfile", name + ".ext")
    run("req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
        "-keyout", "rogue.key", "-out", "rogue.crt", "-days", "2", "-subj", "/CN=rogue")
    return {name: os.path.join(directory, name) for name in
            ("ca.crt", "server.crt", "server.key", "client.crt", "client.key",
             "rogue.crt", "rogue.key")}


def client_context(ca_file, cert=None, key=None, maximum_version=None):
    context = ssl.create_default_context(cafile=ca_file)
    if cert:
        context.load_cert_chain(cert, key)
    if maximum_version:
        context.maximum_version = maximum_version
    return context


def write(path, text):
    with open(path, "w") as f:
        f.write(text)
    return path


def raise_own_fd_limit(needed):
    """At least `needed` descriptors for this process and the daemons it starts (root may
    raise the hard limit too); skips the test when that is not allowed."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft >= needed:
        return
    try:
        resource.setrlimit(resource.RLIMIT_NOFILE,
                           (needed, hard if hard == resource.RLIM_INFINITY else max(hard, needed)))
    except (ValueError, OSError):
        skip("cannot raise the fd limit to %d (hard limit %d)" % (needed, hard))


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
