#!/usr/bin/python3
"""deploy_k8s_grafana: the Kubernetes manifests and the Grafana dashboard parse, agree
with each other and with the daemon: the ConfigMap's config loads with the daemon's
loader, ports and socket paths match across ConfigMap, DaemonSet, probes and
annotations, and every metric and label the dashboard uses is one pktpoold serves
(daemon/metrics/metric_families.txt, the list the daemon's metrics test checks its output against).
"""
import argparse
import json
import os
import re
import subprocess
import sys
import tempfile

from deploy_testlib import fail, run

try:
    import yaml
except ImportError:  # Debian's python3-yaml; /usr/bin/python3 has it.
    fail(f"{sys.executable} has no yaml module (apt-get install python3-yaml)")

# Labels Prometheus adds to every scraped series.
SCRAPE_LABELS = {"instance", "job"}
NAMESPACE = "pktpool"


def load_metric_names(path):
    """{name: (type, {labels})} from daemon/metrics/metric_families.txt."""
    metrics = {}
    with open(path, encoding="utf-8") as names:
        for line in names:
            if not line.strip() or line.startswith("#"):
                continue
            name, kind, labels = line.split()
            metrics[name] = (kind, set() if labels == "-" else set(labels.split(",")))
    return metrics


def check_promql(expr, where, metrics, legend=""):
    """Every metric in `expr` is served, and every label it names exists on them."""
    names = set(re.findall(r"\bpktpool_[a-z0-9_]+", expr))
    if not names:
        fail(f"{where}: no pktpool metric in '{expr}'")
    unknown = names - metrics.keys()
    if unknown:
        fail(f"{where}: {sorted(unknown)} are not metrics pktpoold serves (daemon/metrics/metric_families.txt)")
    known_labels = set(SCRAPE_LABELS)
    for name in names:
        known_labels |= metrics[name][1]
    for name, body in re.findall(r"\b(pktpool_[a-z0-9_]+)\{([^}]*)\}", expr):
        for label in re.findall(r"([a-zA-Z_][a-zA-Z0-9_]*)\s*(?:=~|!~|!=|=)", body):
            if label not in metrics[name][1] | SCRAPE_LABELS:
                fail(f"{where}: {name} has no label '{label}' (it has {sorted(metrics[name][1])})")
    grouped = re.findall(r"\b(?:by|on|ignoring|without)\s*\(([^)]*)\)", expr)
    for label in (l.strip() for group in grouped for l in group.split(",") if l.strip()):
        if label not in known_labels:
            fail(f"{where}: groups by '{label}', which none of {sorted(names)} has")
    for label in re.findall(r"\{\{\s*(\w+)\s*\}\}", legend):
        if label not in known_labels:
            fail(f"{where}: legend uses '{label}', which none of {sorted(names)} has")
    return names


def check_dashboard(path, metrics):
    with open(path, encoding="utf-8") as file:
        dashboard = json.load(file)
    if not 36 <= dashboard.get("schemaVersion", 0) <= 41:
        fail(f"{path}: schemaVersion {dashboard.get('schemaVersion')}, expected about 38")
    variables = {v["name"]: v for v in dashboard["templating"]["list"]}
    datasources = [v for v in variables.values() if v["type"] == "datasource"]
    if len(datasources) != 1 or datasources[0]["query"] != "prometheus":
        fail(f"{path}: needs one Prometheus datasource variable: {list(variables)}")
    datasource_ref = "${" + datasources[0]["name"] + "}"
    binding = variables.get("binding")
    if binding is None:
        fail(f"{path}: no 'binding' variable")
    query = binding["query"]["query"] if isinstance(binding["query"], dict) else binding["query"]
    match = re.fullmatch(r"label_values\((pktpool_binding_up)(\{[^}]*\})?,\s*binding\)", query)
    if not match:
        fail(f"{path}: binding variable query '{query}' is not label_values(pktpool_binding_up, binding)")
    for variable in variables.values():
        if variable["type"] == "query":
            text = variable["query"]["query"] if isinstance(variable["query"], dict) else variable["query"]
            check_promql(text, f"variable {variable['name']}", metrics)

    used = set()
    ids = set()
    panels = [p for p in dashboard["panels"] if p["type"] != "row"]
    for panel in panels:
        where = f"panel '{panel['title']}'"
        if panel["id"] in ids:
            fail(f"{where}: duplicate id {panel['id']}")
        ids.add(panel["id"])
        if panel.get("datasource", {}).get("uid") != datasource_ref:
            fail(f"{where}: datasource is not {datasource_ref}")
        if not panel.get("targets"):
            fail(f"{where}: no queries")
        for target in panel["targets"]:
            names = check_promql(target["expr"], where, metrics, target.get("legendFormat", ""))
            used |= names
            binding_scoped = any("binding" in metrics[n][1] for n in names)
            if binding_scoped and '$binding' not in target["expr"]:
                fail(f"{where}: '{target['expr']}' ignores the $binding variable")
    wanted = {
        "rx/tx frames/s": {"pktpool_rx_frames_total", "pktpool_tx_frames_total"},
        "rx resource drops/s": {"pktpool_rx_resource_drops_total"},
        "pool in_use vs descriptors": {"pktpool_pool_in_use", "pktpool_pool_descriptors"},
        "alloc failures/s": {"pktpool_pool_alloc_failures_total"},
        "pcap drops/s": {"pktpool_pcap_dropped_total"},
        "high watermark": {"pktpool_pool_high_watermark"},
        "tagged memory bytes": {"pktpool_tag_bytes_outstanding"},
    }
    for what, names in wanted.items():
        if not names <= used:
            fail(f"{path}: no panel shows {what} ({sorted(names - used)})")
    print(f"dashboard: {len(panels)} panels, {len(used)} metrics, all served by pktpoold")


def check_kubernetes(directory, config_check):
    documents = {}
    files = sorted(f for f in os.listdir(directory) if f.endswith(".yaml"))
    for name in files:
        with open(os.path.join(directory, name), encoding="utf-8") as file:
            for document in yaml.safe_load_all(file):
                if document is None:
                    continue
                kind = document["kind"]
                if kind != "Kustomization":
                    metadata = document["metadata"]
                    if kind != "Namespace" and metadata.get("namespace") != NAMESPACE:
                        fail(f"{name}: {kind} {metadata['name']} is not in namespace {NAMESPACE}")
                documents[kind] = document
    for kind in ("Namespace", "ConfigMap", "DaemonSet", "ServiceAccount", "Kustomization"):
        if kind not in documents:
            fail(f"{directory}: no {kind}")
    listed = set(documents["Kustomization"]["resources"])
    if listed != set(files) - {"kustomization.yaml"}:
        fail(f"kustomization.yaml lists {sorted(listed)}, the directory has {files}")

    # The ConfigMap's config: loads with the daemon's loader; its ports and paths.
    configmap = documents["ConfigMap"]
    config_text = configmap["data"]["pktpoold.textproto"]
    with tempfile.NamedTemporaryFile("w", suffix=".textproto", prefix="configmap-") as config:
        config.write(config_text)
        config.flush()
        result = subprocess.run([config_check, config.name], capture_output=True, text=True)
        if result.returncode != 0:
            fail(f"configmap.yaml's pktpoold.textproto does not load:\n{result.stderr}")
    socket_path = re.search(r'unix_socket:\s*"([^"]+)"', config_text).group(1)
    metrics_address = re.search(r'listen_address:\s*"([^"]+)"', config_text)
    if not metrics_address:
        fail("configmap.yaml: metrics.listen_address is not set (Prometheus scrapes it)")
    metrics_host, _, metrics_port = metrics_address.group(1).rpartition(":")
    if metrics_host in ("127.0.0.1", "localhost", "[::1]"):
        fail("configmap.yaml: metrics on loopback cannot be scraped from other nodes")

    daemonset = documents["DaemonSet"]
    pod = daemonset["spec"]["template"]
    spec = pod["spec"]
    if spec.get("hostNetwork") is not True:
        fail("DaemonSet: hostNetwork must be true (it binds the node's interfaces)")
    if pod["metadata"]["labels"] != daemonset["spec"]["selector"]["matchLabels"]:
        fail("DaemonSet: selector does not match the pod labels")
    annotations = pod["metadata"]["annotations"]
    expected_annotations = {"prometheus.io/scrape": "true", "prometheus.io/port": metrics_port,
                            "prometheus.io/path": "/metrics"}
    if {k: annotations.get(k) for k in expected_annotations} != expected_annotations:
        fail(f"DaemonSet annotations {annotations}, expected {expected_annotations}")
    (container,) = spec["containers"]
    security = container["securityContext"]
    capabilities = security["capabilities"]
    if sorted(capabilities["add"]) != ["NET_ADMIN", "NET_RAW"] or capabilities["drop"] != ["ALL"]:
        fail(f"container capabilities {capabilities}: add NET_RAW, NET_ADMIN; drop ALL")
    if security.get("allowPrivilegeEscalation") is not False or security.get("privileged"):
        fail("container must not be privileged nor allow privilege escalation")
    ports = {p["name"]: p["containerPort"] for p in container["ports"]}
    if ports.get("metrics") != int(metrics_port) or metrics_port != "9469":
        fail(f"container port 'metrics' {ports.get('metrics')}, config {metrics_port}: both 9469")
    readiness = container["readinessProbe"]["httpGet"]
    if readiness["path"] != "/metrics" or readiness["port"] != "metrics":
        fail(f"readinessProbe {readiness}: expected GET /metrics on port 'metrics'")
    for probe in ("livenessProbe", "startupProbe"):
        command = container[probe]["exec"]["command"]
        if command[0] != "/usr/bin/pktpoolctl" or command[-1] != "health" or socket_path not in command:
            fail(f"{probe} {command}: expected pktpoolctl --socket {socket_path} health")
    resources = container["resources"]
    if not resources.get("requests") or not resources.get("limits", {}).get("memory"):
        fail(f"container resources {resources}: requests and a memory limit are needed")
    mounts = {m["mountPath"]: m["name"] for m in container["volumeMounts"]}
    volumes = {v["name"]: v for v in spec["volumes"]}
    config_path = container["args"][container["args"].index("--config") + 1]
    config_dir, config_file = os.path.split(config_path)
    config_volume = volumes[mounts[config_dir]]
    if config_volume["configMap"]["name"] != configmap["metadata"]["name"]:
        fail(f"{config_dir} is not the ConfigMap {configmap['metadata']['name']}")
    if config_file not in configmap["data"]:
        fail(f"--config {config_path}: the ConfigMap has no key {config_file}")
    run_volume = volumes[mounts[os.path.dirname(socket_path)]]
    if run_volume.get("hostPath", {}).get("path") != os.path.dirname(socket_path):
        fail(f"the socket directory {os.path.dirname(socket_path)} is not a hostPath of the same path")
    print(f"kubernetes: {len(files)} files; socket {socket_path}, metrics port {metrics_port}")

    with open(os.path.join(directory, "Dockerfile"), encoding="utf-8") as file:
        dockerfile = file.read()
    if not re.search(r"^FROM debian:12", dockerfile, re.M):
        fail("Dockerfile: not based on Debian 12")
    if "apt-get install" not in dockerfile or ".deb" not in dockerfile:
        fail("Dockerfile: does not install the .deb with apt-get")
    if '"/usr/sbin/pktpoold"' not in dockerfile:
        fail("Dockerfile: does not run /usr/sbin/pktpoold")


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--deploy-dir", required=True)
    parser.add_argument("--metric-names", required=True)
    parser.add_argument("--config-check", required=True, help="the built config_check")
    args = parser.parse_args()
    metrics = load_metric_names(args.metric_names)
    check_kubernetes(os.path.join(args.deploy_dir, "kubernetes"), args.config_check)
    check_dashboard(os.path.join(args.deploy_dir, "grafana", "pktpool-dashboard.json"), metrics)


if __name__ == "__main__":
    main()
