#!/usr/bin/env python3
"""Fleet test: 50 simulated hosts (memledger_exporter over generated fixture trees, each on
its own loopback port), a real Prometheus scraping them with the shipped recording rules
and remote-writing (deploy/prometheus/prometheus_fleet.yml) to a real VictoriaMetrics.
Through VictoriaMetrics' query API, the dashboard's fleet queries must rank the three
leaking hosts first (by unexplained share and by its growth, not the ballooned host nor
the one whose tmpfs grows), the recorded fleet p50/p99 must equal the quantiles of the
shares computed here from the fixtures, and the one host with a broken slabinfo must be
the only failing collector. Prints Prometheus's head series and RSS per host."""
import json
import os
import re
import shutil
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import generate_hosts  # noqa: E402
import peers  # noqa: E402
from e2e import BINARY, SOURCE_DIR, Daemon, check, fail, require_binary, skip, workdir  # noqa: E402

import yaml  # noqa: E402  (python3-yaml)

HOSTS = 50
STEPS = 10
STEP_SECONDS = 2.0
JOB, METHOD = "memledger", "lru"


def template_baseline(name):
    """(MemTotal, unexplained lru) of a template as the exporter computes them: the
    ledger itself is unit-tested on these captures; this test checks the fleet path."""
    tree, _ = generate_hosts.TEMPLATES[name]
    host = generate_hosts.Host("baseline", name)
    out = subprocess.run([BINARY, "--once", "--path.procfs=" + os.path.join(tree, "proc"),
                          "--path.sysfs=" + os.path.join(tree, "sys")] + host.collector_flags(),
                         capture_output=True, text=True, check=True).stdout
    total = float(re.search(r'^memledger_meminfo_bytes\{field="MemTotal"\} (\S+)$', out, re.M).group(1))
    unexplained = float(re.search(r'^memledger_unexplained_bytes\{method="lru"\} (\S+)$', out, re.M).group(1))
    return total, unexplained


def promql_quantile(phi, values):
    """PromQL's quantile(): linear interpolation between ranks (promql/quantile.go)."""
    values = sorted(values)
    rank = phi * (len(values) - 1)
    low = int(rank)
    high = min(low + 1, len(values) - 1)
    return values[low] + (values[high] - values[low]) * (rank - low)


def close(a, b):
    return abs(a - b) <= 1e-9 * max(abs(a), abs(b), 1e-12)


def dashboard_expr(dashboard, title):
    for panel in dashboard["panels"]:
        if panel["title"].startswith(title):
            expr = panel["targets"][0]["expr"]
            return expr.replace("$job", JOB).replace("$method", METHOD)
    fail("dashboard has no panel %r" % title)


def ranked(server, expr):
    return sorted(((labels["instance"], v) for labels, v in server.query(expr)),
                  key=lambda iv: -iv[1])


def main():
    prometheus_binary = require_binary("prometheus")
    vm_binary = require_binary("victoria-metrics")
    check(BINARY and os.path.exists(BINARY), "MEMLEDGER_BINARY not set or missing")
    tmp = workdir()
    hosts = generate_hosts.fleet(HOSTS)
    roots = os.path.join(tmp, "hosts")
    for h in hosts:
        generate_hosts.write_tree(roots, h)
    baselines = {name: template_baseline(name) for name in generate_hosts.TEMPLATES}

    def expected_share(h, step):
        total, unexplained = baselines[h.template]
        return (unexplained + h.added_unexplained(step)) / (total + h.extra_total)

    daemons = {}
    for h in hosts:
        tree = os.path.join(roots, h.name)
        daemons[h.name] = Daemon("--path.procfs=" + os.path.join(tree, "proc"),
                                 "--path.sysfs=" + os.path.join(tree, "sys"),
                                 *h.collector_flags())

    vm = peers.Server("victoria-metrics", lambda port: [
        vm_binary, "-httpListenAddr=127.0.0.1:%d" % port,
        "-storageDataPath=" + os.path.join(tmp, "vm-data"), "-retentionPeriod=1d",
        # Answer with the latest samples (the default hides the last 30 s) and do not
        # cache results between the test's polls.
        "-search.latencyOffset=0s", "-search.disableCache"], tmp, "/health")

    # The shipped example, with the test's targets, store and intervals.
    config = yaml.safe_load(open(os.path.join(SOURCE_DIR, "deploy", "prometheus", "prometheus_fleet.yml")))
    config["global"].update(scrape_interval="1s", scrape_timeout="1s", evaluation_interval="1s")
    del config["alerting"]
    config["scrape_configs"][0].pop("file_sd_configs")
    config["scrape_configs"][0]["scrape_timeout"] = "1s"
    config["scrape_configs"][0]["static_configs"] = [
        {"targets": ["127.0.0.1:%d" % daemons[h.name].port], "labels": {"instance": h.name}}
        for h in hosts]
    config["remote_write"][0]["url"] = vm.url + "/api/v1/write"
    config["remote_write"][0]["queue_config"]["batch_send_deadline"] = "1s"
    shutil.copy(os.path.join(SOURCE_DIR, "deploy", "prometheus", "memledger_rules.yml"), tmp)
    with open(os.path.join(tmp, "prometheus.yml"), "w") as f:
        yaml.safe_dump(config, f)
    prom = peers.prometheus(prometheus_binary, os.path.join(tmp, "prometheus.yml"), tmp)

    deadline = time.monotonic() + 60
    while not prom.query('count(up{job="%s"} == 1) == %d' % (JOB, HOSTS)):
        check(time.monotonic() < deadline, "Prometheus did not scrape all %d hosts:\n%s"
              % (HOSTS, prom.log()))
        time.sleep(0.5)

    start = time.monotonic()
    for step in range(1, STEPS + 1):
        time.sleep(max(0.0, start + step * STEP_SECONDS - time.monotonic()))
        for h in hosts:
            if h.leak_per_step or h.tmpfs_per_step:
                generate_hosts.set_step(roots, h, step)

    # Until every host's final share has come through Prometheus into VictoriaMetrics
    # and the fleet rules have been evaluated on it.
    final = {h.name: expected_share(h, STEPS) for h in hosts}
    p50 = promql_quantile(0.5, final.values())
    p99 = promql_quantile(0.99, final.values())
    share_expr = 'instance_method:memledger_unexplained_memtotal:ratio{job="%s", method="%s"}' % (JOB, METHOD)
    quantile_expr = 'job_method:memledger_unexplained_memtotal:ratio_p%%s{job="%s", method="%s"}' % (JOB, METHOD)
    deadline = time.monotonic() + 60
    while True:
        shares = {labels["instance"]: v for labels, v in vm.query(share_expr)}
        got50 = [v for _, v in vm.query(quantile_expr % "50")]
        got99 = [v for _, v in vm.query(quantile_expr % "99")]
        wrong = sorted(n for n in final if n not in shares or not close(shares[n], final[n]))
        if not wrong and got50 and got99 and close(got50[0], p50) and close(got99[0], p99):
            break
        if time.monotonic() > deadline:
            fail("VictoriaMetrics did not converge: hosts off %s (got %s, want %s); "
                 "p50 %s want %r, p99 %s want %r\n%s"
                 % (wrong[:5], [shares.get(n) for n in wrong[:5]], [final[n] for n in wrong[:5]],
                    got50, p50, got99, p99, prom.log()))
        time.sleep(1)
    print("fleet p50 %.6f p99 %.6f of %d hosts, as computed from the fixtures" % (p50, p99, HOSTS))

    dashboard = json.load(open(os.path.join(SOURCE_DIR, "deploy", "grafana", "memledger_dashboard.json")))
    leaking = {h.name for h in hosts if h.leaking}
    by_name = {h.name: h for h in hosts}
    quiet_growers = {h.name for h in hosts if h.balloon or h.tmpfs_per_step}
    for title in ("Hosts by unexplained share", "Hosts by growth of the unexplained share"):
        expr = dashboard_expr(dashboard, title)
        rows = ranked(vm, expr)
        top = {name for name, _ in rows[:len(leaking)]}
        print("%s: %s" % (title, ", ".join("%s %.4g" % r for r in rows[:5])))
        check(top == leaking, "%s: top %d are %s, want the leaking hosts %s (query %s)"
              % (title, len(leaking), sorted(top), sorted(leaking), expr))
        check(not quiet_growers & top, "%s ranks the balloon or tmpfs host among the leaks" % title)
    growth = dict(ranked(vm, 'instance_method:memledger_unexplained_memtotal:ratio_deriv1h{job="%s", method="%s"}'
                         % (JOB, METHOD)))
    for name in quiet_growers:
        check(abs(growth[name]) < 1e-15,
              "%s (%s) grows its unexplained share by %r/s; its growth is all explained"
              % (name, "balloon" if by_name[name].balloon else "tmpfs", growth[name]))

    failing = {labels["collector"]: v for labels, v in
               vm.query('job_collector:memledger_scrape_collector_failing:count{job="%s"}' % JOB)}
    broken = sum(1 for h in hosts if h.broken_slabinfo)
    check(failing.get("slab") == broken, "slab failing on %s hosts, want %d" % (failing.get("slab"), broken))
    others = {c: v for c, v in failing.items() if c != "slab" and v != 0}
    check(not others, "collectors failing that should not: %s" % others)
    check(len(vm.query('up{job="%s"} == 1' % JOB)) == HOSTS, "VictoriaMetrics lacks some hosts' up")

    head_series = prom.own_metric("prometheus_tsdb_head_series")
    rss = prom.own_metric("process_resident_memory_bytes")
    samples = sum(v for _, v in prom.query('scrape_samples_scraped{job="%s"}' % JOB))
    print("prometheus: %d head series (%.0f per host), %d samples per scrape round "
          "(%.0f per host), RSS %.1f MiB (%.2f MiB per host) for %d hosts"
          % (head_series, head_series / HOSTS, samples, samples / HOSTS, rss / 2**20,
             rss / 2**20 / HOSTS, HOSTS))
    for d in daemons.values():
        check(d.alive(), "an exporter died:\n" + d.log())
    prom.stop()
    vm.stop()
    for d in daemons.values():
        d.stop()
    print("ok")


if __name__ == "__main__":
    main()
