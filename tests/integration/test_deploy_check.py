"""test_deploy_check.py -- scripts/deploy-check.sh passes on the tree's
deployment files and fails, naming the problem, on a copy with one defect:
a misspelled field (Kubernetes object, custom resource, compose key), a
container without a probe, a container that may run as root, a compose
key that only Compose v2 knows, a Herald compose service without its
/readyz healthcheck, an image that runs as root or lacks a library.

Every case runs the real checker (kubectl kustomize, the validator,
docker-compose 1.29) on a copy of Dockerfile, docker-compose.yml and
deploy/ in a temporary directory; nothing is contacted.
"""
import os
import re
import shutil
import subprocess

import pytest

from harness import ROOT

CHECK = os.path.join(ROOT, "scripts", "deploy-check.sh")


def copy_tree(tmp_path):
    dst = tmp_path / "tree"
    dst.mkdir()
    shutil.copy(os.path.join(ROOT, "docker-compose.yml"), dst / "docker-compose.yml")
    shutil.copy(os.path.join(ROOT, "Dockerfile"), dst / "Dockerfile")
    shutil.copytree(os.path.join(ROOT, "deploy"), dst / "deploy")
    return dst


def run_check(tree):
    p = subprocess.run(["sh", CHECK, str(tree)], capture_output=True, text=True,
                       timeout=120)
    return p.returncode, p.stdout + p.stderr


def replace(path, old, new, count=1):
    text = path.read_text()
    assert old in text, "%s: %r not found (manifests changed?)" % (path, old)
    path.write_text(text.replace(old, new, count))


def drop_block(path, key):
    """Removes the first mapping entry `key:` and its indented body."""
    lines = path.read_text().splitlines(keepends=True)
    for i, line in enumerate(lines):
        m = re.match(r"^(\s*)" + re.escape(key) + r":\s*$", line)
        if not m:
            continue
        indent = len(m.group(1))
        j = i + 1
        while j < len(lines) and (not lines[j].strip() or
                                  len(lines[j]) - len(lines[j].lstrip()) > indent):
            j += 1
        del lines[i:j]
        path.write_text("".join(lines))
        return
    raise AssertionError("%s: no %s: block" % (path, key))


def test_tree_passes(tmp_path):
    rc, out = run_check(copy_tree(tmp_path))
    assert rc == 0, out
    assert re.search(r"^\d+ passed, 0 failed$", out, re.M), out
    # both overlays and both compose variants were really checked
    for step in ("kubectl kustomize deploy/k8s/overlays/dev",
                 "kubectl kustomize deploy/k8s/overlays/prod",
                 "docker-compose config -q",
                 "docker-compose --profile demo config"):
        assert "ok   " + step in out, out


def k8s(tree, name):
    return tree / "deploy" / "k8s" / "base" / name


CASES = {
    "misspelled Deployment field": (
        lambda t: replace(k8s(t, "api.yaml"), "revisionHistoryLimit:", "revisionHistoryLimt:"),
        r"Deployment/herald-api: spec\.revisionHistoryLimt: unknown field"),
    "misspelled custom resource field": (
        lambda t: replace(k8s(t, "kafka-topics.yaml"), "  partitions: 8", "  partitons: 8"),
        r"KafkaTopic/herald-\S+: spec\.partitons: unknown field"),
    "container without readiness probe": (
        lambda t: drop_block(k8s(t, "hub.yaml"), "readinessProbe"),
        r'Deployment/herald-hub: .*container "hub": no readinessProbe'),
    "container running as uid 0": (
        lambda t: replace(k8s(t, "worker-fcm.yaml"), "runAsUser: 10001", "runAsUser: 0"),
        r'Deployment/herald-worker-fcm: .*container "worker-fcm": runs as root: runAsUser is 0'),
    "container that may run as root": (
        lambda t: (replace(k8s(t, "api.yaml"), "            runAsNonRoot: true\n", "", 2),
                   replace(k8s(t, "api.yaml"), "        runAsNonRoot: true\n", "")),
        r'Deployment/herald-api: .*container "api": may run as root: runAsNonRoot is not true'),
    "misspelled compose key": (
        lambda t: replace(t / "docker-compose.yml", "    restart: unless-stopped", "    restrat: unless-stopped"),
        r"Unsupported config option for services\.kafka: 'restrat'"),
    "Compose v2-only key": (
        lambda t: replace(t / "docker-compose.yml", "      start_period: 20s\n",
                          "      start_period: 20s\n      start_interval: 2s\n"),
        r"services\.api\.healthcheck value 'start_interval' does not match"),
    "compose service without /readyz healthcheck": (
        lambda t: replace(t / "docker-compose.yml", "http://127.0.0.1:8081/readyz",
                          "http://127.0.0.1:8081/healthz"),
        r"compose service/hub: healthcheck: no healthcheck on /readyz"),
}

# Checked together in one run: each is reported on its own line.
MORE = {
    "image running as root": (
        lambda t: replace(t / "Dockerfile", "USER 10001:10001", "USER 0"),
        r"Dockerfile: USER 0 runs as root"),
    "runtime library missing from the image": (
        lambda t: replace(t / "Dockerfile", " libpq5 ", " "),
        r"Dockerfile: runtime stage does not install libpq5 \(for -lpq\)"),
    "misspelled container field": (
        lambda t: replace(k8s(t, "relay.yaml"), "imagePullPolicy: IfNotPresent\n          command",
                          "imagePullPolicy: IfNotPresent\n          comand"),
        r"Deployment/herald-relay: spec\.template\.spec\.containers\[0\]\.comand: unknown field"),
    "wrong type": (
        lambda t: replace(k8s(t, "hub.yaml"), "containerPort: 8081", "containerPort: http"),
        r"Deployment/herald-hub: spec\.template\.spec\.containers\[0\]\.ports\[0\]\.containerPort: must be integer"),
    "container without liveness probe": (
        lambda t: drop_block(k8s(t, "worker-apns.yaml"), "livenessProbe"),
        r'Deployment/herald-worker-apns: .*container "worker-apns": no livenessProbe'),
    "privilege escalation allowed": (
        lambda t: replace(k8s(t, "relay.yaml"), "allowPrivilegeEscalation: false",
                          "allowPrivilegeEscalation: true", 2),
        r'Deployment/herald-relay: .*container "relay": allowPrivilegeEscalation is not false'),
    "writable root filesystem": (
        lambda t: replace(k8s(t, "worker-hms.yaml"), "readOnlyRootFilesystem: true",
                          "readOnlyRootFilesystem: false"),
        r'Deployment/herald-worker-hms: .*container "worker-hms": readOnlyRootFilesystem is not true'),
    "Service selecting nothing": (
        lambda t: replace(k8s(t, "api.yaml"), "  selector:\n    app.kubernetes.io/name: herald-api",
                          "  selector:\n    app.kubernetes.io/name: herald-apj"),
        r"Service/herald-api: spec\.selector: selects no workload"),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_defect_fails(tmp_path, case):
    mutate, expect = CASES[case]
    tree = copy_tree(tmp_path)
    mutate(tree)
    rc, out = run_check(tree)
    assert rc != 0, "deploy-check passed with a defect (%s):\n%s" % (case, out)
    assert re.search(r"^\d+ passed, [1-9]\d* failed$", out, re.M), out
    assert re.search(expect, out), "no message matching %r:\n%s" % (expect, out)


def test_several_defects_each_reported(tmp_path):
    tree = copy_tree(tmp_path)
    for mutate, _ in MORE.values():
        mutate(tree)
    rc, out = run_check(tree)
    assert rc != 0, out
    for case, (_, expect) in sorted(MORE.items()):
        assert re.search(expect, out), "%s: no message matching %r:\n%s" % (case, expect, out)


def test_relay_cert_key_is_readable_by_the_service_only(tmp_path):
    """gen-relay-cert.sh: the certificate is public, the key readable by
    the relay container's user (uid/gid 10001) only, never by others."""
    dst = tmp_path / "compose"
    dst.mkdir()
    shutil.copy(os.path.join(ROOT, "deploy", "compose", "gen-relay-cert.sh"), dst)
    p = subprocess.run(["sh", str(dst / "gen-relay-cert.sh"), "relay.test"],
                       capture_output=True, text=True, timeout=60)
    assert p.returncode == 0, p.stdout + p.stderr
    key = os.stat(dst / "tls" / "tls.key")
    assert key.st_mode & 0o007 == 0, "tls.key mode %o: readable by others" % key.st_mode
    if os.getuid() == 0:
        assert key.st_uid == 10001 and key.st_mode & 0o077 == 0, (key.st_uid, oct(key.st_mode))
    else:
        assert key.st_mode & 0o070 == 0 or key.st_gid == 10001, (key.st_gid, oct(key.st_mode))
    assert os.stat(dst / "tls" / "tls.crt").st_mode & 0o004
