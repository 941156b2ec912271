"""Real peers for the fleet and alert tests: Prometheus, VictoriaMetrics, Alertmanager,
each started on a free loopback port with its data in the test's directory, stopped by
pid at exit. Standard library only."""
import atexit
import json
import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "e2e"))
from e2e import check, fail  # noqa: E402


def free_port():
    """A loopback TCP port nobody listens on right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    """A peer process on 127.0.0.1:<port>, ready when `ready_path` answers 200."""

    def __init__(self, name, argv_for_port, workdir, ready_path, port=None, timeout=60):
        self.name = name
        self.port = port or free_port()
        self.url = "http://127.0.0.1:%d" % self.port
        self.log_path = os.path.join(workdir, name + ".log")
        self.log_file = open(self.log_path, "a")
        self.process = subprocess.Popen(argv_for_port(self.port), stdout=self.log_file,
                                        stderr=subprocess.STDOUT, cwd=workdir)
        atexit.register(self.stop)
        deadline = time.monotonic() + timeout
        while True:
            if self.process.poll() is not None:
                fail("%s exited with %d:\n%s" % (name, self.process.returncode, self.log()))
            try:
                with urllib.request.urlopen(self.url + ready_path, timeout=2) as r:
                    if r.status == 200:
                        return
            except (OSError, urllib.error.URLError):
                pass
            if time.monotonic() > deadline:
                fail("%s not ready after %d s:\n%s" % (name, timeout, self.log()))
            time.sleep(0.2)

    def log(self, tail=40):
        with open(self.log_path, errors="replace") as f:
            return "".join(f.readlines()[-tail:])

    def stop(self):
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()

    def get_json(self, path, **params):
        url = "%s%s?%s" % (self.url, path, urllib.parse.urlencode(params, doseq=True))
        try:
            with urllib.request.urlopen(url, timeout=20) as r:
                return json.load(r)
        except urllib.error.HTTPError as e:
            body = e.read().decode(errors="replace")
            fail("%s %s: HTTP %d: %s" % (self.name, url, e.code, body))

    def query(self, expr, **params):
        """An instant query's result: [(labels, value)]."""
        r = self.get_json("/api/v1/query", query=expr, **params)
        check(r.get("status") == "success", "%s: query %s failed: %s" % (self.name, expr, r))
        return [(s["metric"], float(s["value"][1])) for s in r["data"]["result"]]

    def own_metric(self, name):
        """A sample of the server's own /metrics without labels (e.g. its RSS)."""
        with urllib.request.urlopen(self.url + "/metrics", timeout=10) as r:
            for line in r.read().decode().splitlines():
                if line.startswith(name + " "):
                    return float(line.split()[1])
        fail("%s exposes no %s" % (self.name, name))


def prometheus(binary, config, workdir, data="prometheus-data", extra=()):
    return Server("prometheus", lambda port: [
        binary, "--config.file=" + config,
        "--storage.tsdb.path=" + os.path.join(workdir, data),
        "--web.listen-address=127.0.0.1:%d" % port] + list(extra), workdir, "/-/ready")
