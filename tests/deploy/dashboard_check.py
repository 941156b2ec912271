#!/usr/bin/env python3
"""Checks deploy/grafana/memledger_dashboard.json.

  dashboard_check.py structure DASHBOARD
      the JSON is a dashboard Grafana can import: variables, layout, data sources, targets.
  dashboard_check.py queries DASHBOARD RULES PROMETHEUS_URL EXPOSITION_URL JOB INSTANCE
      every panel query and variable query runs against a live Prometheus. A query must
      parse; it must return data when every metric it reads (through recording rules too)
      is in the daemon's exposition. Queries whose metrics this daemon does not emit
      (a collector absent on this machine or not written yet) are listed, not failed.
"""
import datetime
import json
import re
import sys
import time
import urllib.error
import urllib.parse
import urllib.request

import yaml

# Metrics Prometheus adds to every target itself.
SYNTHETIC_METRICS = {"up", "scrape_duration_seconds", "scrape_samples_scraped",
                     "scrape_samples_post_metric_relabeling", "scrape_series_added"}
PROMQL_KEYWORDS = {"and", "or", "unless", "offset", "bool", "by", "without", "on", "ignoring",
                   "group_left", "group_right", "inf", "nan", "atan2"}
# Metrics every panel of the dashboard must show.
REQUIRED_METRICS = ["memledger_ledger_bytes", "memledger_unexplained_bytes",
                    "memledger_meminfo_bytes", "memledger_slab_cache_bytes",
                    "memledger_vmalloc_bytes", "memledger_hugepages_bytes",
                    "memledger_process_memory_bytes", "memledger_scrape_collector_success"]
REQUIRED_VARIABLES = {"datasource", "job", "instance", "method"}


def panels_with_rows(dashboard):
    """Yields (row title, panel) for every non-row panel, collapsed rows included."""
    row = ""
    for panel in dashboard["panels"]:
        if panel["type"] == "row":
            row = panel["title"]
            for inner in panel.get("panels", []):
                yield row, inner
            continue
        yield row, panel


def check_structure(dashboard):
    problems = []
    for key in ("title", "uid", "schemaVersion", "panels", "templating"):
        if key not in dashboard:
            problems.append(f"dashboard has no {key}")
    if dashboard.get("id") is not None:
        problems.append("id must be null so that importing creates a new dashboard")
    variables = {v["name"]: v for v in dashboard["templating"]["list"]}
    missing = REQUIRED_VARIABLES - variables.keys()
    if missing:
        problems.append(f"missing template variables: {sorted(missing)}")
    if variables.get("datasource", {}).get("type") != "datasource":
        problems.append("variable datasource must be of type datasource")

    ids = [p["id"] for p in dashboard["panels"]]
    ids += [inner["id"] for p in dashboard["panels"] for inner in p.get("panels", [])]
    if len(ids) != len(set(ids)):
        problems.append("panel ids are not unique")

    cells = {}
    for panel in dashboard["panels"]:
        g = panel["gridPos"]
        if g["x"] < 0 or g["w"] <= 0 or g["x"] + g["w"] > 24 or g["h"] <= 0:
            problems.append(f"panel {panel['title']!r}: gridPos {g} outside the 24-column grid")
        for x in range(g["x"], g["x"] + g["w"]):
            for y in range(g["y"], g["y"] + g["h"]):
                if (x, y) in cells:
                    problems.append(f"panels {cells[(x, y)]!r} and {panel['title']!r} overlap")
                    break
                cells[(x, y)] = panel["title"]
            else:
                continue
            break

    exprs = []
    for row, panel in panels_with_rows(dashboard):
        title = panel["title"]
        if panel.get("datasource", {}).get("uid") != "${datasource}":
            problems.append(f"panel {title!r} does not use the $datasource variable")
        targets = panel.get("targets", [])
        if not targets:
            problems.append(f"panel {title!r} has no query")
        ref_ids = [t.get("refId") for t in targets]
        if None in ref_ids or len(ref_ids) != len(set(ref_ids)):
            problems.append(f"panel {title!r}: refIds missing or repeated")
        for t in targets:
            expr = t.get("expr", "")
            exprs.append(expr)
            if 'job="$job"' not in expr:
                problems.append(f"panel {title!r}: query is not filtered on $job: {expr}")
            fleet_wide = row.startswith("Fleet")
            if not fleet_wide and 'instance="$instance"' not in expr:
                problems.append(f"panel {title!r}: query is not filtered on $instance: {expr}")
    for metric in REQUIRED_METRICS:
        if not any(metric in e for e in exprs):
            problems.append(f"no panel shows {metric}")

    ledger = [p for _, p in panels_with_rows(dashboard)
              if any("memledger_ledger_bytes" in t["expr"] for t in p["targets"])]
    for panel in ledger:
        defaults = panel["fieldConfig"]["defaults"]
        if defaults.get("custom", {}).get("stacking", {}).get("mode") != "normal":
            problems.append(f"ledger panel {panel['title']!r} is not stacked")
        overridden = {o["matcher"]["options"] for o in panel["fieldConfig"].get("overrides", [])}
        if "unexplained" not in overridden:
            problems.append(f"ledger panel {panel['title']!r} does not highlight unexplained")
    return problems


def metric_names(expr):
    """The metric names a PromQL expression reads (not label names, functions or keywords)."""
    s = re.sub(r'"(?:[^"\\]|\\.)*"', '""', expr)
    s = re.sub(r"'(?:[^'\\]|\\.)*'", "''", s)
    s = re.sub(r"\{[^}]*\}", "", s)
    s = re.sub(r"\[[^\]]*\]", "", s)
    s = re.sub(r"\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)", "", s)
    names = set()
    for m in re.finditer(r"[a-zA-Z_:][a-zA-Z0-9_:]*", s):
        if m.start() > 0 and (s[m.start() - 1].isdigit() or s[m.start() - 1] == "."):
            continue  # 1e10, the unit of a duration
        if s[m.end():].lstrip().startswith("(") or m.group(0) in PROMQL_KEYWORDS:
            continue
        names.add(m.group(0))
    return names


def raw_metrics(expr, recording):
    """metric_names with recording rules replaced by the metrics they read."""
    out = set()
    for name in metric_names(expr):
        if name in recording:
            out |= raw_metrics(recording[name], recording)
        else:
            out.add(name)
    return out


def api(prometheus, path, **params):
    url = f"{prometheus}{path}?{urllib.parse.urlencode(params, doseq=True)}"
    try:
        with urllib.request.urlopen(url, timeout=10) as r:
            return json.load(r)
    except urllib.error.HTTPError as e:
        return json.load(e)


def instant(prometheus, query):
    return api(prometheus, "/api/v1/query", query=query)


def parse_time(text):
    # Go's RFC 3339 with up to nine fractional digits; Python takes six.
    text = re.sub(r"(\.\d{6})\d+", r"\1", text.replace("Z", "+00:00"))
    return datetime.datetime.fromisoformat(text)


def wait_for_data(prometheus, job, deadline_seconds=30):
    """Until three scrapes are stored and every rule group has evaluated after that."""
    deadline = time.monotonic() + deadline_seconds
    scraped_at = None
    while time.monotonic() < deadline:
        if scraped_at is None:
            r = instant(prometheus, f'count_over_time(up{{job="{job}"}}[1m]) >= 3 and up{{job="{job}"}} == 1')
            if r.get("status") == "success" and r["data"]["result"]:
                scraped_at = datetime.datetime.now(datetime.timezone.utc)
        else:
            groups = api(prometheus, "/api/v1/rules")["data"]["groups"]
            if groups and all(parse_time(g["lastEvaluation"]) > scraped_at for g in groups):
                return True
        time.sleep(0.5)
    return False


def exposed_metrics(url):
    with urllib.request.urlopen(url, timeout=10) as r:
        text = r.read().decode()
    return {re.split(r"[{ ]", line, maxsplit=1)[0]
            for line in text.splitlines() if line and not line.startswith("#")}


def substitute(expr, values):
    for name, value in values.items():
        expr = expr.replace(f"${{{name}}}", value).replace(f"${name}", value)
    return expr


def check_queries(dashboard, rules_path, prometheus, exposition_url, job, instance):
    rules = yaml.safe_load(open(rules_path))
    recording = {r["record"]: r["expr"] for g in rules["groups"] for r in g["rules"] if "record" in r}
    if not wait_for_data(prometheus, job):
        return [f"Prometheus at {prometheus} has not scraped job {job} three times and "
                "evaluated the rules within 30 s"]
    exposed = exposed_metrics(exposition_url) | SYNTHETIC_METRICS
    problems = []
    values = {"job": job, "instance": instance, "method": "lru"}

    def judge(what, expr, result, error):
        needed = raw_metrics(expr, recording)
        absent = sorted(needed - exposed)
        note = ""
        if error:
            problems.append(f"{what}: {error}: {expr}")
            status = "FAIL"
        elif result:
            status = "ok"
        elif absent:
            status = "no data"
            note = f"  (this daemon does not expose {', '.join(absent)})"
        else:
            problems.append(f"{what}: returned nothing although {', '.join(sorted(needed))} "
                            f"are exposed: {expr}")
            status = "FAIL"
        print(f"  {status:<7} {what}{note}")

    print("template variables:")
    choices = {}
    for variable in dashboard["templating"]["list"]:
        if variable["type"] != "query":
            continue
        m = re.fullmatch(r"label_values\((.*),\s*(\w+)\)", variable["query"]["query"], re.S)
        if not m:
            problems.append(f"variable {variable['name']}: not a label_values() query")
            continue
        selector = substitute(m.group(1), values)
        r = api(prometheus, "/api/v1/series", **{"match[]": selector})
        error = r.get("error") if r.get("status") != "success" else None
        found = sorted({s.get(m.group(2)) for s in r.get("data", []) if m.group(2) in s})
        judge(f"${variable['name']} = {found}", selector, found, error)
        choices[variable["name"]] = found
        expected = values[variable["name"]]
        if found and expected not in found:
            problems.append(f"variable {variable['name']}: {expected} not among {found}")

    print("panel queries (each ledger method the daemon exposes):")
    methods = choices.get("method") or [values["method"]]
    for _, panel in panels_with_rows(dashboard):
        for target in panel["targets"]:
            for method in methods if "$method" in target["expr"] else [values["method"]]:
                expr = substitute(target["expr"], {**values, "method": method})
                r = instant(prometheus, expr)
                error = f"{r.get('errorType')}: {r.get('error')}" if r.get("status") != "success" else None
                result = r.get("data", {}).get("result", []) if not error else []
                title = substitute(panel["title"], {**values, "method": method})
                judge(f"{title} [{target['refId']}] ({len(result)} series)", expr, result, error)
    return problems


def main(argv):
    mode, dashboard_path = argv[1], argv[2]
    dashboard = json.load(open(dashboard_path))
    if mode == "structure":
        problems = check_structure(dashboard)
    elif mode == "queries":
        problems = check_queries(dashboard, *argv[3:8])
    else:
        sys.exit(f"unknown mode {mode}")
    for p in problems:
        print("FAIL:", p, file=sys.stderr)
    if not problems:
        print(f"dashboard {mode}: ok")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
