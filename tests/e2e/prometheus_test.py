#!/usr/bin/env python3
"""A real Prometheus scrapes the exporter over HTTPS with a client certificate
(RequireAndVerifyClientCert) and basic auth: every scrape is up == 1 and the samples land."""

import json
import os
import socket
import subprocess
import time
import urllib.parse
import urllib.request

from e2e import (S3CRET_HASH, Daemon, check, make_certificates, require_binary, workdir, write)

prometheus = require_binary("prometheus")
tmp = workdir()
certs = make_certificates(tmp)
web = write(os.path.join(tmp, "web.yml"),
            "tls_server_config:\n  cert_file: server.crt\n  key_file: server.key\n"
            "  client_ca_file: ca.crt\n  client_auth_type: RequireAndVerifyClientCert\n"
            "basic_auth_users:\n  prometheus: " + S3CRET_HASH + "\n")


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def query(port, expression):
    url = "http://127.0.0.1:%d/api/v1/query?%s" % (
        port, urllib.parse.urlencode({"query": expression}))
    with urllib.request.urlopen(url, timeout=10) as response:
        result = json.load(response)["data"]["result"]
    return [float(r["value"][1]) for r in result]


with Daemon("--web.config.file=" + web) as daemon:
    config = write(os.path.join(tmp, "prometheus.yml"), """
global:
  scrape_interval: 2s
  scrape_timeout: 2s
scrape_configs:
  - job_name: memledger
    scheme: https
    tls_config:
      ca_file: {ca}
      cert_file: {cert}
      key_file: {key}
    basic_auth:
      username: prometheus
      password: s3cret
    static_configs:
      - targets: ['127.0.0.1:{port}']
""".format(ca=certs["ca.crt"], cert=certs["client.crt"], key=certs["client.key"],
           port=daemon.port))
    prom_port = free_port()
    prom_log = open(os.path.join(tmp, "prometheus.log"), "w")
    server = subprocess.Popen(
        [prometheus, "--config.file=" + config, "--storage.tsdb.path=" + os.path.join(tmp, "data"),
         "--web.listen-address=127.0.0.1:%d" % prom_port], stdout=prom_log, stderr=prom_log)
    try:
        deadline = time.monotonic() + 90
        scrapes = []
        while time.monotonic() < deadline:
            time.sleep(1)
            try:
                scrapes = query(prom_port, 'count_over_time(up{job="memledger"}[5m])')
            except OSError:
                continue  # Prometheus still starting
            if scrapes and scrapes[0] >= 5:
                break
        check(scrapes and scrapes[0] >= 5, "Prometheus scraped fewer than 5 times: %s" % scrapes)
        check(query(prom_port, 'min_over_time(up{job="memledger"}[5m])') == [1.0],
              "some scrape had up == 0")
        check(query(prom_port, 'memledger_meminfo_bytes{field="MemTotal"}'),
              "memledger_meminfo_bytes did not reach Prometheus")
        check(daemon.alive(), "daemon died")
    finally:
        server.terminate()
        server.wait(timeout=30)
print("ok")
