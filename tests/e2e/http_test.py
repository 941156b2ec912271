#!/usr/bin/env python3
"""End to end over plain HTTP: the daemon on a loopback port, its pages, gzip, and a
lint-clean exposition (promtool prints nothing at all), from the daemon and from --once."""

import gzip
import subprocess

from e2e import BINARY, Daemon, check, get, promtool_check, require_binary, sample

require_binary("promtool")

once = subprocess.run([BINARY, "--once"], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                      timeout=120)
check(once.returncode == 0, "--once exited with %d: %s" % (once.returncode, once.stderr))
rc, output = promtool_check(once.stdout.decode())
check(rc == 0 and output == "", "promtool on --once output: rc=%d\n%s" % (rc, output))
check(sample(once.stdout.decode(), "memledger_scrape_collector_success",
             '{collector="meminfo"}') == 1, "meminfo did not succeed in --once")

with Daemon() as daemon:
    landing = get(daemon.port, "/")
    check(landing.status == 200, "/ answered %d" % landing.status)
    check(landing.headers["content-type"].startswith("text/html"), "/ is not HTML")
    check('href="/metrics"' in landing.body.decode(), "landing page does not link /metrics")

    for path in ("/nope", "/metrics/", "/metricsx", "/favicon.ico"):
        missing = get(daemon.port, path)
        check(missing.status == 404, "%s answered %d, not 404" % (path, missing.status))

    plain = get(daemon.port)
    check(plain.status == 200, "/metrics answered %d" % plain.status)
    check(plain.headers["content-type"] == "text/plain; version=0.0.4; charset=utf-8",
          "content type " + plain.headers["content-type"])
    check("content-encoding" not in plain.headers, "gzip without Accept-Encoding")
    rc, output = promtool_check(plain.text())
    check(rc == 0 and output == "", "promtool on /metrics: rc=%d\n%s" % (rc, output))

    zipped = get(daemon.port, headers={"Accept-Encoding": "gzip"})
    check(zipped.headers.get("content-encoding") == "gzip", "no gzip with Accept-Encoding: gzip")
    check(int(zipped.headers["content-length"]) == len(zipped.body), "gzip length mismatch")
    text = gzip.decompress(zipped.body).decode()
    check(text.startswith("# HELP"), "gzip body does not decompress to an exposition")
    check(len(zipped.body) * 3 < len(text), "gzip did not compress")

    head = get(daemon.port, method="HEAD")
    check(head.status == 200 and head.body == b"", "HEAD answered %d with a body" % head.status)

    post = get(daemon.port, method="POST")
    check(post.status >= 400 and b"memledger_" not in post.body,
          "POST /metrics answered %d with metrics" % post.status)

    requests = sample(get(daemon.port).text(), "memledger_scrape_requests_total")
    check(requests is not None and requests >= 4, "requests counter missing or low")
    check(daemon.alive(), "daemon died")
print("ok")
