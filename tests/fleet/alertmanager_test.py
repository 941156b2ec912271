#!/usr/bin/env python3
"""Alert delivery: MemledgerUnexplainedMemoryGrowing goes from a Prometheus evaluating the
shipped rules, unchanged, through a real Alertmanager routed by
deploy/alertmanager/alertmanager.yml, to a webhook receiver inside this test.

The alert needs 6 hours of history (30-minute averages 3 and 6 hours apart) and 30
minutes of wall-clock pending time (`for: 30m`). The test uses backfilled blocks rather
than a time-compressed sequence, because compressing time would mean editing the rules'
windows and `for:`, i.e. testing other rules. What is backfilled is what a Prometheus
that had been running for 7 hours would hold:
  1. the raw series (promtool tsdb create-blocks-from openmetrics): a host whose
     unexplained memory grows 1.5% of MemTotal every 3 hours, up to a minute ago;
  2. the recording rules' output over that history (promtool tsdb create-blocks-from
     rules, evaluating the shipped rules file against a Prometheus serving 1);
  3. the alert's own ALERTS_FOR_STATE series, which Prometheus writes on every evaluation
     of a pending or firing alert (value: the time it became active). Its activation time
     is not made up: it is the first evaluation of the last uninterrupted run in which
     the shipped alert expression, queried over the backfilled history, held.
Prometheus restores `for` state from ALERTS_FOR_STATE at startup when the outage is
shorter than --rules.alert.for-outage-tolerance (1h by default): here it has been pending
for well over 30 minutes, so it fires at the first evaluation. The present comes from a
real exporter over a fixture tree whose leak continues the history.
"""
import http.server
import json
import os
import queue
import shutil
import subprocess
import sys
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import generate_hosts  # noqa: E402
import peers  # noqa: E402
from e2e import BINARY, SOURCE_DIR, Daemon, check, fail, require_binary, workdir  # noqa: E402

import yaml  # noqa: E402

ALERT = "MemledgerUnexplainedMemoryGrowing"
INSTANCE, JOB = "leaky-host", "memledger"
HISTORY_SECONDS = 7 * 3600
STEP = 60
GROWTH_PER_3H = 0.015  # share of MemTotal


def openmetrics(path, series):
    """series: [(name, labels dict, [(t, value)])] -> an OpenMetrics file for promtool."""
    with open(path, "w") as f:
        names = sorted({name for name, _, _ in series})
        for name in names:
            f.write("# TYPE %s gauge\n" % name)
            for n, labels, samples in series:
                if n != name:
                    continue
                text = ",".join('%s="%s"' % kv for kv in sorted(labels.items()))
                for t, v in samples:
                    f.write("%s{%s} %r %d\n" % (name, text, v, t))
        f.write("# EOF\n")


def promtool(*args):
    result = subprocess.run(["promtool"] + list(args), capture_output=True, text=True)
    if result.returncode != 0:
        fail("promtool %s:\n%s%s" % (" ".join(args), result.stdout, result.stderr))


class Receiver(http.server.BaseHTTPRequestHandler):
    deliveries = queue.Queue()

    def do_POST(self):
        body = self.rfile.read(int(self.headers["Content-Length"]))
        self.deliveries.put((self.path, json.loads(body)))
        self.send_response(200)
        self.end_headers()

    def log_message(self, *args):
        pass


def main():
    prometheus_binary = require_binary("prometheus")
    alertmanager_binary = require_binary("prometheus-alertmanager")
    require_binary("promtool")
    check(BINARY and os.path.exists(BINARY), "MEMLEDGER_BINARY not set or missing")
    tmp = workdir()
    rules_path = os.path.join(SOURCE_DIR, "deploy", "prometheus", "memledger_rules.yml")
    shutil.copy(rules_path, tmp)
    rules = yaml.safe_load(open(rules_path))
    alert_rule = next(r for g in rules["groups"] for r in g["rules"] if r.get("alert") == ALERT)

    # The present: a real exporter over a 6.18 tree leaking 12% of MemTotal.
    host = generate_hosts.Host(INSTANCE, "linux-6.18-firecracker", leak=3 * 2**30)
    tree = generate_hosts.write_tree(os.path.join(tmp, "hosts"), host)
    exporter = Daemon("--path.procfs=" + os.path.join(tree, "proc"),
                      "--path.sysfs=" + os.path.join(tree, "sys"), *host.collector_flags())
    exposition = subprocess.run([BINARY, "--once", "--path.procfs=" + os.path.join(tree, "proc"),
                                 "--path.sysfs=" + os.path.join(tree, "sys")] + host.collector_flags(),
                                capture_output=True, text=True, check=True).stdout
    value = {}
    for line in exposition.splitlines():
        for key in ('memledger_meminfo_bytes{field="MemTotal"}', 'memledger_unexplained_bytes{method="lru"}'):
            if line.startswith(key + " "):
                value[key] = float(line.split()[1])
    memtotal = value['memledger_meminfo_bytes{field="MemTotal"}']
    unexplained_now = value['memledger_unexplained_bytes{method="lru"}']

    # 1. The raw history, continuing into the exporter's present value.
    now = int(time.time())
    end = now - STEP
    times = range(now - HISTORY_SECONDS, end + 1, STEP)
    rate = GROWTH_PER_3H * memtotal / (3 * 3600)
    labels = {"job": JOB, "instance": INSTANCE}
    openmetrics(os.path.join(tmp, "history.om"), [
        ("memledger_meminfo_bytes", dict(labels, field="MemTotal"), [(t, memtotal) for t in times]),
        ("memledger_unexplained_bytes", dict(labels, method="lru"),
         [(t, unexplained_now - rate * (now - t)) for t in times]),
    ])
    data = os.path.join(tmp, "data")
    promtool("tsdb", "create-blocks-from", "openmetrics", os.path.join(tmp, "history.om"), data)

    # 2. The recording rules over that history, evaluated by promtool against it.
    empty = os.path.join(tmp, "empty.yml")
    with open(empty, "w") as f:
        f.write("global: {evaluation_interval: 1m}\n")
    history = peers.prometheus(prometheus_binary, empty, tmp, data="data")
    promtool("tsdb", "create-blocks-from", "rules", "--url=" + history.url,
             "--start=%d" % (now - HISTORY_SECONDS), "--end=%d" % end,
             "--eval-interval=%ds" % STEP, "--output-dir=" + os.path.join(tmp, "rule-blocks"),
             os.path.join(tmp, "memledger_rules.yml"))
    history.stop()
    for block in os.listdir(os.path.join(tmp, "rule-blocks")):
        shutil.move(os.path.join(tmp, "rule-blocks", block), data)

    # 3. When the shipped expression started to hold, over the backfilled history.
    history = peers.prometheus(prometheus_binary, empty, tmp, data="data")
    r = history.get_json("/api/v1/query_range", query=alert_rule["expr"],
                         start=now - HISTORY_SECONDS, end=end, step=STEP)
    history.stop()
    result = r["data"]["result"]
    check(len(result) == 1, "the alert expression holds for %d series in the history, want 1: %s"
          % (len(result), result))
    held = [int(float(t)) for t, _ in result[0]["values"]]
    check(held[-1] == end, "the alert expression does not hold at the end of the history")
    active_at = held[-1]
    while active_at - STEP in held:
        active_at -= STEP
    check(end - active_at > 30 * 60, "pending only %d s in the history" % (end - active_at))
    alert_labels = dict(result[0]["metric"], alertname=ALERT, **alert_rule["labels"])
    openmetrics(os.path.join(tmp, "for_state.om"), [
        ("ALERTS_FOR_STATE", alert_labels, [(t, float(active_at)) for t in held if t >= active_at])])
    promtool("tsdb", "create-blocks-from", "openmetrics", os.path.join(tmp, "for_state.om"), data)
    print("backfilled 7 h; the alert expression holds since %d s before the end of the history"
          % (end - active_at))

    # The receiver, Alertmanager with the shipped routing, and Prometheus with the rules.
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Receiver)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    receiver_url = "http://127.0.0.1:%d" % server.server_address[1]
    routing = yaml.safe_load(open(os.path.join(SOURCE_DIR, "deploy", "alertmanager", "alertmanager.yml")))
    for receiver in routing["receivers"]:
        for hook in receiver.get("webhook_configs", []):
            hook["url"] = receiver_url + "/" + receiver["name"]
    with open(os.path.join(tmp, "alertmanager.yml"), "w") as f:
        yaml.safe_dump(routing, f)
    cluster_port = peers.free_port()
    alertmanager = peers.Server("alertmanager", lambda port: [
        alertmanager_binary, "--config.file=" + os.path.join(tmp, "alertmanager.yml"),
        "--storage.path=" + os.path.join(tmp, "am-data"),
        "--web.listen-address=127.0.0.1:%d" % port,
        "--cluster.listen-address=127.0.0.1:%d" % cluster_port], tmp, "/-/ready")
    config = {
        "global": {"scrape_interval": "5s", "evaluation_interval": "5s"},
        "rule_files": ["memledger_rules.yml"],
        "alerting": {"alertmanagers": [{"static_configs": [
            {"targets": ["127.0.0.1:%d" % alertmanager.port]}]}]},
        "scrape_configs": [{"job_name": JOB, "static_configs": [
            {"targets": ["127.0.0.1:%d" % exporter.port], "labels": {"instance": INSTANCE}}]}],
    }
    with open(os.path.join(tmp, "prometheus.yml"), "w") as f:
        yaml.safe_dump(config, f)
    prom = peers.prometheus(prometheus_binary, os.path.join(tmp, "prometheus.yml"), tmp, data="data")

    deadline = time.monotonic() + 90
    while True:
        try:
            path, payload = Receiver.deliveries.get(timeout=max(0.1, deadline - time.monotonic()))
        except queue.Empty:
            fail("no %s delivered within 90 s; Prometheus alerts: %s\n%s\n%s"
                 % (ALERT, prom.get_json("/api/v1/alerts"), prom.log(), alertmanager.log()))
        alerts = [a for a in payload["alerts"] if a["labels"]["alertname"] == ALERT]
        if alerts:
            break
    alert = alerts[0]
    check(path == "/kernel-memory", "delivered to %s, want the kernel-memory receiver" % path)
    check(payload["status"] == "firing" and alert["status"] == "firing", "not firing: %s" % payload)
    check(alert["labels"]["instance"] == INSTANCE and alert["labels"]["method"] == "lru",
          "labels %s" % alert["labels"])
    runbook = alert["annotations"].get("runbook", "")
    for pointer in ("memledger_exporter explain", "memledger_blackhole_bytes",
                    "memledger_socket_memory_bytes", "memledger_sockstat_memory_bytes"):
        check(pointer in runbook, "runbook does not mention %s: %r" % (pointer, runbook))
    print("delivered to %s: %s on %s, %s" % (path, ALERT, INSTANCE, alert["annotations"]["summary"]))
    prom.stop()
    alertmanager.stop()
    exporter.stop()
    server.shutdown()
    print("ok")


if __name__ == "__main__":
    main()
