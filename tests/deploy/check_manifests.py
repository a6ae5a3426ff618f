#!/usr/bin/env python3
"""Checks deploy/kubernetes/herd.yaml as a cluster would need it: the objects a five-server herd
needs, names that agree with each other, probes on the admin port, and a herd file that the herd
binary itself reads (simulated once end to end). Usage: check_manifests.py MANIFEST HERD_BINARY"""
import os
import subprocess
import sys
import tempfile

import yaml


def fail(message):
    print("check_manifests: " + message, file=sys.stderr)
    sys.exit(1)


def main():
    manifest, herd = sys.argv[1], sys.argv[2]
    with open(manifest) as f:
        docs = [d for d in yaml.safe_load_all(f) if d]
    by_kind = {}
    for d in docs:
        for field in ("apiVersion", "kind", "metadata"):
            if field not in d:
                fail(f"an object without {field}")
        by_kind.setdefault(d["kind"], []).append(d)
    for kind in ("ConfigMap", "Service", "StatefulSet"):
        if kind not in by_kind:
            fail(f"no {kind}")
    if "Secret" in by_kind:
        fail("the manifest defines a Secret: applying it would replace the operator's own")
    sts = by_kind["StatefulSet"][0]
    spec = sts["spec"]
    headless = [s for s in by_kind["Service"] if s["metadata"]["name"] == spec["serviceName"]]
    if not headless or headless[0]["spec"].get("clusterIP") != "None":
        fail("the StatefulSet's serviceName is not a headless Service")
    if not headless[0]["spec"].get("publishNotReadyAddresses"):
        fail("the headless Service must publish addresses before readiness (servers dial peers)")
    if spec["selector"]["matchLabels"] != spec["template"]["metadata"]["labels"]:
        fail("selector and pod labels differ")
    pod = spec["template"]["spec"]
    container = pod["containers"][0]
    args = container["args"]
    if args[:2] != ["serve", "$(POD_NAME)"]:
        fail("the container does not run `herd serve $(POD_NAME)`")
    ports = {p["name"]: p["containerPort"] for p in container["ports"]}
    for probe, path in (("livenessProbe", "/healthz"), ("readinessProbe", "/readyz")):
        get = container[probe]["httpGet"]
        if get["path"] != path or get["port"] not in ports:
            fail(f"{probe} is not GET {path} on a named container port")
    admin = [a for a in args if a.startswith("--admin=")]
    if not admin or int(admin[0].rsplit(":", 1)[1]) != ports["admin"]:
        fail("--admin does not listen on the admin port")
    annotations = spec["template"]["metadata"]["annotations"]
    if int(annotations["prometheus.io/port"]) != ports["admin"]:
        fail("the Prometheus annotation names another port")
    volumes = {v["name"] for v in pod["volumes"]} | {
        t["metadata"]["name"] for t in spec.get("volumeClaimTemplates", [])}
    for mount in container["volumeMounts"]:
        if mount["name"] not in volumes:
            fail(f"volume {mount['name']} is mounted but not declared")
    config = by_kind["ConfigMap"][0]["data"]["herd.conf"]
    servers = [line.split()[1] for line in config.splitlines() if line.startswith("server ")]
    if servers != [f"{sts['metadata']['name']}-{i}" for i in range(spec["replicas"])]:
        fail(f"the herd file's servers {servers} are not the StatefulSet's pods")
    for line in config.splitlines():
        if line.startswith("server ") and not line.split()[2].endswith(":" + str(ports["herd"])):
            fail(f"{line}: not the container's herd port")
    # The herd binary reads the herd file, and a simulated update reaches every server.
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "herd.conf")
        with open(path, "w") as f:
            f.write(config)
        run = subprocess.run([herd, "bench", "propagation", "--config", path, "--sim",
                              "--count", "1"], capture_output=True, text=True, timeout=60)
        if run.returncode != 0:
            fail("herd does not take the ConfigMap's herd file: " + run.stderr + run.stdout)
    print(f"check_manifests: {manifest}: {len(docs)} objects, {len(servers)} servers, ok")


if __name__ == "__main__":
    main()
