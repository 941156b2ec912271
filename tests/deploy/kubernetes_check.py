#!/usr/bin/env python3
"""Structural checks of deploy/kubernetes/ (no cluster needed).

  kubernetes_check.py DEPLOY_KUBERNETES_DIR RULES_FILE

What a cluster would reject, or what would leave the exporter blind: kinds and API
versions, selectors that match, host PID namespace, host /proc and /sys mounted read-only
and passed with --path.procfs / --path.sysfs, non-root with exactly the capabilities the
collectors need (the same ones the Dockerfile grants the binary), probes on a declared
port, a ServiceMonitor that finds the Service and sets the job the alerting rules select.
"""
import glob
import os
import re
import sys

import yaml

CAPABILITIES = {"DAC_READ_SEARCH", "SYS_PTRACE", "SYS_ADMIN", "SYSLOG"}
API_VERSIONS = {"DaemonSet": "apps/v1", "Service": "v1", "ServiceMonitor": "monitoring.coreos.com/v1"}


def load(directory):
    objects = {}
    for path in sorted(glob.glob(os.path.join(directory, "*.yaml"))):
        for doc in yaml.safe_load_all(open(path)):
            if doc:
                objects.setdefault(doc["kind"], []).append(doc)
    return objects


def matches(selector, labels):
    return bool(selector) and all(labels.get(k) == v for k, v in selector.items())


def check(directory, rules_path):
    problems = []
    objects = load(directory)
    for kind, api_version in API_VERSIONS.items():
        if len(objects.get(kind, [])) != 1:
            problems.append(f"expected one {kind}, found {len(objects.get(kind, []))}")
            continue
        if objects[kind][0]["apiVersion"] != api_version:
            problems.append(f"{kind}: apiVersion {objects[kind][0]['apiVersion']}, expected {api_version}")
    if problems:
        return problems
    ds, svc, sm = objects["DaemonSet"][0], objects["Service"][0], objects["ServiceMonitor"][0]
    namespaces = {o["metadata"].get("namespace") for o in (ds, svc, sm)}
    if len(namespaces) != 1 or None in namespaces:
        problems.append(f"objects are not in one explicit namespace: {namespaces}")

    pod = ds["spec"]["template"]
    pod_labels = pod["metadata"]["labels"]
    if not matches(ds["spec"]["selector"]["matchLabels"], pod_labels):
        problems.append("DaemonSet selector does not match its pod template labels")
    spec = pod["spec"]
    if spec.get("hostPID") is not True:
        problems.append("DaemonSet does not share the host PID namespace (hostPID)")
    pod_sc = spec.get("securityContext", {})
    if pod_sc.get("runAsNonRoot") is not True or not pod_sc.get("runAsUser"):
        problems.append("pod does not run as a non-root user (runAsNonRoot, runAsUser)")

    containers = spec["containers"]
    if len(containers) != 1:
        return problems + ["expected one container"]
    c = containers[0]
    sc = c.get("securityContext", {})
    caps = sc.get("capabilities", {})
    if caps.get("drop") != ["ALL"]:
        problems.append("container does not drop ALL capabilities")
    if set(caps.get("add", [])) != CAPABILITIES:
        problems.append(f"container adds {caps.get('add')}, expected exactly {sorted(CAPABILITIES)}")
    if sc.get("allowPrivilegeEscalation") is False:
        problems.append("allowPrivilegeEscalation: false makes the kernel refuse the binary's file capabilities")
    if sc.get("readOnlyRootFilesystem") is not True:
        problems.append("container root filesystem is not read-only")
    if sc.get("runAsUser") == 0 or sc.get("runAsNonRoot") is False:
        problems.append("container overrides the pod's non-root user")

    volumes = {v["name"]: v for v in spec.get("volumes", [])}
    mounts = {m["name"]: m for m in c.get("volumeMounts", [])}
    args = c.get("args", [])
    for host_path, flag in (("/proc", "--path.procfs"), ("/sys", "--path.sysfs")):
        names = [n for n, v in volumes.items() if v.get("hostPath", {}).get("path") == host_path]
        if not names:
            problems.append(f"no hostPath volume for {host_path}")
            continue
        mount = mounts.get(names[0])
        if not mount:
            problems.append(f"host {host_path} volume is not mounted")
            continue
        if mount.get("readOnly") is not True:
            problems.append(f"host {host_path} is mounted writable")
        if f"{flag}={mount['mountPath']}" not in args:
            problems.append(f"args do not pass {flag}={mount['mountPath']}")

    ports = {p["name"]: p["containerPort"] for p in c.get("ports", [])}
    listen = [a.split("=", 1)[1] for a in args if a.startswith("--web.listen-address=")]
    listen_port = int(listen[0].rsplit(":", 1)[1]) if listen else 9747
    if "metrics" not in ports or ports["metrics"] != listen_port:
        problems.append(f"container port 'metrics' ({ports.get('metrics')}) is not the listen port {listen_port}")
    for probe in ("livenessProbe", "readinessProbe"):
        port = c.get(probe, {}).get("httpGet", {}).get("port")
        if port not in ports and port not in ports.values():
            problems.append(f"{probe} missing or not on a declared port")

    if not matches(svc["spec"]["selector"], pod_labels):
        problems.append("Service selector does not match the pods")
    svc_ports = {p["name"]: p for p in svc["spec"]["ports"]}
    if svc.get("spec", {}).get("clusterIP") != "None":
        problems.append("Service is not headless: Prometheus must reach every pod, not one of them")
    for p in svc_ports.values():
        if p.get("targetPort") not in ports and p.get("targetPort") not in ports.values():
            problems.append(f"Service port {p['name']} targets an undeclared container port")

    if not matches(sm["spec"]["selector"]["matchLabels"], svc["metadata"]["labels"]):
        problems.append("ServiceMonitor selector does not match the Service labels")
    rules_text = open(rules_path).read()
    expected_job = re.search(r'up\{job="([^"]+)"\}', rules_text).group(1)
    for endpoint in sm["spec"]["endpoints"]:
        if endpoint.get("port") not in svc_ports:
            problems.append(f"ServiceMonitor endpoint port {endpoint.get('port')} is not a Service port")
        jobs = [r.get("replacement") for r in endpoint.get("relabelings", []) if r.get("targetLabel") == "job"]
        if jobs != [expected_job]:
            problems.append(f"ServiceMonitor sets job to {jobs}, the alerting rules select job={expected_job}")

    dockerfile = open(os.path.join(directory, "Dockerfile")).read()
    m = re.search(r"setcap\s+(\S+)=ep\s+(\S+)", dockerfile)
    file_caps = {cap.upper().removeprefix("CAP_") for cap in m.group(1).split(",")} if m else set()
    if file_caps != CAPABILITIES:
        problems.append(f"Dockerfile grants file capabilities {sorted(file_caps)}, expected {sorted(CAPABILITIES)}")
    if not re.search(r"^USER\s+[1-9]", dockerfile, re.M):
        problems.append("Dockerfile image does not run as a non-root user")
    return problems


def main():
    problems = check(sys.argv[1], sys.argv[2])
    for p in problems:
        print("FAIL:", p, file=sys.stderr)
    if not problems:
        print("kubernetes manifests: ok")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
