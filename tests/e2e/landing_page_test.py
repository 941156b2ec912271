#!/usr/bin/env python3
"""The landing page in a real browser: headless Chromium renders "/" of a daemon reading a
fixture host, takes a screenshot and dumps the DOM. The page must draw one SVG ledger bar
per method with the unexplained part marked, show the verdict and the top contributors,
link the metrics, and show the same unexplained figure the metrics page serves."""

import os
import re
import shutil
import struct
import subprocess

from e2e import SOURCE_DIR, Daemon, check, get, sample, skip, workdir

browser = shutil.which("chromium") or shutil.which("chromium-browser")
if not browser:
    skip("chromium is not installed")

HOST = os.path.join(SOURCE_DIR, "tests", "fixtures", "hosts", "linux-6.18-firecracker")
CONFIG = os.path.join(SOURCE_DIR, "tests", "golden", "golden.yml")


def human(value):
    """exporter/report.cpp's human_bytes."""
    units = ["B", "KiB", "MiB", "GiB", "TiB", "PiB"]
    v, unit = abs(value), 0
    while v >= 1024 and unit < 5:
        v /= 1024
        unit += 1
    sign = "-" if value < 0 else ""
    return "%s%.0f B" % (sign, v) if unit == 0 else "%s%.1f %s" % (sign, v, units[unit])


def run_browser(*args):
    profile = workdir()
    command = [browser, "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
               "--no-first-run", "--user-data-dir=" + profile] + list(args)
    result = subprocess.run(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=120)
    check(result.returncode == 0, "chromium exited with %d: %s" % (result.returncode, result.stderr[-2000:]))
    return result.stdout.decode("utf-8", "replace")


with Daemon("--path.procfs=" + HOST + "/proc", "--path.sysfs=" + HOST + "/sys",
            "--config.file=" + CONFIG) as daemon:
    url = "http://127.0.0.1:%d/" % daemon.port
    metrics = get(daemon.port).text()
    unexplained = sample(metrics, "memledger_unexplained_bytes", '{method="lru"}')
    check(unexplained is not None, "no unexplained{lru} in /metrics")

    dom = run_browser("--dump-dom", url)
    bars = re.findall(r'<svg class="ledger-bar" data-method="(\w+)"', dom)
    check(sorted(bars) == ["cache", "lru", "pss"], "ledger bars drawn: %s" % bars)
    for method in bars:
        bar = dom.split('data-method="%s"' % method, 1)[1].split("</svg>", 1)[0]
        check('class="segment unexplained"' in bar, "the %s bar does not mark unexplained" % method)
        check(bar.count('class="segment ') >= 5, "the %s bar has too few segments" % method)
    headline = re.search(r'id="unexplained">Unexplained \(lru\): <b>([^<]+)</b>', dom)
    check(headline and headline.group(1) == human(unexplained),
          "headline %s, /metrics says %s" % (headline and headline.group(1), human(unexplained)))
    check(re.search(r'<ul class="verdict">\s*<li class="(ok|note|abnormal)">', dom), "no verdict")
    check('data-section="slab_caches"' in dom, "no slab caches among the contributors")
    check('href="/metrics"' in dom, "no link to /metrics")
    check('http-equiv="refresh"' in dom, "the page does not refresh itself")
    check(not re.search(r'(src|href)="https?://', dom), "the page loads an external asset")

    shot = os.path.join(workdir(), "landing.png")
    run_browser("--window-size=1100,1500", "--screenshot=" + shot, url)
    with open(shot, "rb") as f:
        png = f.read()
    check(png[:8] == b"\x89PNG\r\n\x1a\n", "the screenshot is not a PNG")
    width, height = struct.unpack(">II", png[16:24])
    check((width, height) == (1100, 1500), "screenshot is %dx%d" % (width, height))
    check(len(png) > 30_000, "the screenshot is nearly empty (%d bytes)" % len(png))
    if os.environ.get("MEMLEDGER_SCREENSHOT"):
        shutil.copy(shot, os.environ["MEMLEDGER_SCREENSHOT"])
print("landing page: %d bars, headline %s, screenshot %dx%d" % (len(bars), human(unexplained), width, height))
