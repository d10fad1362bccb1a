"""Structural checks on a chart's rendered objects, for any chart.

Each check takes a `Rendered` (the objects helm produced for one value set, its NOTES and the
effective values) and returns `Problem`s. A check id names the rule, so a report line says
which rule broke and the self-test can assert that each rule fires.
"""

from __future__ import annotations

import base64
import functools
import ipaddress
import math
import re
from dataclasses import dataclass, field
from typing import Callable, Iterable, Iterator

WORKLOAD_KINDS = ("Deployment", "StatefulSet", "DaemonSet", "ReplicaSet", "Job", "CronJob", "Pod")
CLUSTER_SCOPED_KINDS = {
    "Namespace", "Node", "PersistentVolume", "ClusterRole", "ClusterRoleBinding", "IngressClass",
    "PriorityClass", "StorageClass", "CustomResourceDefinition", "APIService",
    "MutatingWebhookConfiguration", "ValidatingWebhookConfiguration",
    "ValidatingAdmissionPolicy", "ValidatingAdmissionPolicyBinding",
}
# Sysctls Kubernetes treats as safe (namespaced, allowed by default on every kubelet).
SAFE_SYSCTLS = {
    "kernel.shm_rmid_forced", "net.ipv4.ip_local_port_range", "net.ipv4.tcp_syncookies",
    "net.ipv4.ping_group_range", "net.ipv4.ip_unprivileged_port_start",
    "net.ipv4.ip_local_reserved_ports", "net.ipv4.tcp_keepalive_time", "net.ipv4.tcp_fin_timeout",
    "net.ipv4.tcp_keepalive_intvl", "net.ipv4.tcp_keepalive_probes",
}
SECRET_ENV = re.compile(r"(PASSWORD|PASSWD|SECRET|TOKEN|PRIVATE_KEY|API_KEY|CREDENTIAL)", re.I)
NOT_SECRET_ENV = re.compile(r"PUBLISHABLE", re.I)  # e.g. Medusa's publishable key: public by design
ENV_REF = re.compile(r"\$\([A-Za-z_][A-Za-z0-9_]*\)")
URL_CREDENTIALS = re.compile(r"[a-z][a-z0-9+.-]*://[^/\s:@]+:([^@\s/]+)@", re.I)
STUB_WORDS = re.compile(r"\b(TODO|FIXME|XXX|stub|placeholder|coming soon|not implemented|lorem ipsum)\b", re.I)
DNS1123_SUBDOMAIN = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")
METADATA_SERVICE = ipaddress.ip_address("169.254.169.254")
PRIVATE_V4 = [ipaddress.ip_network(n) for n in ("10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16")]


@dataclass(frozen=True)
class Problem:
    check: str
    message: str

    def __str__(self) -> str:
        return f"[{self.check}] {self.message}"


@dataclass
class Rendered:
    """One value set rendered by helm."""

    chart: str
    release: str
    namespace: str
    values: dict  # effective values: chart defaults coalesced with the value set
    default_values: dict  # the chart's own values.yaml
    objects: list[dict]
    notes: str
    manifest: str
    has_notes_template: bool = True
    sources: dict[int, str] = field(default_factory=dict)  # id(obj) -> template path

    def of_kind(self, *kinds: str) -> list[dict]:
        return [o for o in self.objects if o.get("kind") in kinds]

    def get(self, kind: str, name: str) -> dict | None:
        for o in self.objects:
            if o.get("kind") == kind and name_of(o) == name:
                return o
        return None


# ---------------------------------------------------------------------------------------------
# helpers
# ---------------------------------------------------------------------------------------------
def name_of(obj: dict) -> str:
    return ((obj.get("metadata") or {}).get("name")) or "<unnamed>"


def ref(obj: dict) -> str:
    return f"{obj.get('kind', '<no kind>')}/{name_of(obj)}"


def value_at(values: dict, dotted: str, default=None):
    cur = values
    for part in dotted.split("."):
        if not isinstance(cur, dict) or part not in cur:
            return default
        cur = cur[part]
    return cur


def pod_template(obj: dict) -> dict | None:
    """The pod template (metadata + spec) of a workload, the Pod itself for a Pod."""
    kind = obj.get("kind")
    spec = obj.get("spec") or {}
    if kind == "Pod":
        return {"metadata": obj.get("metadata") or {}, "spec": spec}
    if kind == "CronJob":
        return ((spec.get("jobTemplate") or {}).get("spec") or {}).get("template")
    if kind in WORKLOAD_KINDS:
        return spec.get("template")
    return None


def workloads(r: Rendered) -> Iterator[tuple[dict, dict]]:
    for obj in r.objects:
        tpl = pod_template(obj)
        if tpl is not None:
            yield obj, tpl


def pod_labels(tpl: dict) -> dict:
    return ((tpl.get("metadata") or {}).get("labels")) or {}


def all_containers(spec: dict) -> Iterator[tuple[str, dict]]:
    for c in spec.get("initContainers") or []:
        yield "initContainer", c
    for c in spec.get("containers") or []:
        yield "container", c


def selector_matches(match_labels: dict, labels: dict) -> bool:
    return all(labels.get(k) == v for k, v in match_labels.items())


def replicas_of(obj: dict) -> int:
    if obj.get("kind") in ("Deployment", "StatefulSet", "ReplicaSet"):
        value = (obj.get("spec") or {}).get("replicas", 1)
        return int(value) if isinstance(value, int) else 1
    return 1


_QUANTITY = re.compile(r"^([+-]?[0-9.]+(?:[eE][+-]?[0-9]+)?)(m|k|M|G|T|P|E|Ki|Mi|Gi|Ti|Pi|Ei)?$")
_SUFFIX = {
    None: 1, "m": 1e-3, "k": 1e3, "M": 1e6, "G": 1e9, "T": 1e12, "P": 1e15, "E": 1e18,
    "Ki": 2**10, "Mi": 2**20, "Gi": 2**30, "Ti": 2**40, "Pi": 2**50, "Ei": 2**60,
}


def quantity(value) -> float:
    """A Kubernetes resource quantity in base units (cores, bytes)."""
    if isinstance(value, (int, float)):
        return float(value)
    m = _QUANTITY.match(str(value).strip())
    if not m:
        raise ValueError(f"not a quantity: {value!r}")
    return float(m.group(1)) * _SUFFIX[m.group(2)]


def fmt(resource: str, amount: float) -> str:
    if resource.endswith("cpu"):
        return f"{amount * 1000:.0f}m"
    return f"{amount / 2**20:.0f}Mi"


def _within(ip_net, nets) -> bool:
    return any(ip_net.version == n.version and ip_net.subnet_of(n) for n in nets)


# ---------------------------------------------------------------------------------------------
# checks
# ---------------------------------------------------------------------------------------------
def check_rendering(r: Rendered) -> list[Problem]:
    problems = []
    if "<no value>" in r.manifest:
        problems.append(Problem("rendering", "the manifest contains '<no value>' (a template reads a value that is not set)"))
    if not r.objects:
        problems.append(Problem("rendering", "the chart rendered no object"))
    seen = set()
    for obj in r.objects:
        key = (obj.get("apiVersion"), obj.get("kind"), name_of(obj))
        if key in seen:
            problems.append(Problem("rendering", f"{ref(obj)} is rendered twice"))
        seen.add(key)
    return problems


def check_metadata(r: Rendered) -> list[Problem]:
    problems = []
    for obj in r.objects:
        meta = obj.get("metadata")
        if not obj.get("apiVersion") or not obj.get("kind") or not isinstance(meta, dict):
            problems.append(Problem("metadata", f"{ref(obj)} lacks apiVersion, kind or a metadata block"))
            continue
        name = meta.get("name") or ""
        if not DNS1123_SUBDOMAIN.match(name) or len(name) > 253:
            problems.append(Problem("metadata", f"{ref(obj)} has an invalid name {name!r}"))
        labels = meta.get("labels") or {}
        if labels.get("app.kubernetes.io/managed-by") != "Helm":
            problems.append(Problem("metadata", f"{ref(obj)} lacks label app.kubernetes.io/managed-by=Helm"))
        if labels.get("app.kubernetes.io/instance") != r.release:
            problems.append(Problem("metadata", f"{ref(obj)} lacks label app.kubernetes.io/instance={r.release}"))
        namespace = meta.get("namespace")
        if obj.get("kind") in CLUSTER_SCOPED_KINDS:
            continue
        if namespace not in (None, r.namespace):
            problems.append(Problem("metadata", f"{ref(obj)} is placed in namespace {namespace!r}, outside the release's {r.namespace!r}"))
    return problems


def check_images(r: Rendered) -> list[Problem]:
    problems = []
    for obj, tpl in workloads(r):
        for role, c in all_containers(tpl.get("spec") or {}):
            image = c.get("image") or ""
            where = f"{ref(obj)} {role} {c.get('name')}"
            if not image:
                problems.append(Problem("images", f"{where} has no image"))
                continue
            if "@sha256:" in image:
                continue
            last = image.rsplit("/", 1)[-1]
            if ":" not in last:
                problems.append(Problem("images", f"{where} image {image!r} has no tag (floats on latest)"))
            elif last.rsplit(":", 1)[1] in ("latest", ""):
                problems.append(Problem("images", f"{where} image {image!r} is not pinned"))
    return problems


def check_containers(r: Rendered) -> list[Problem]:
    problems = []
    for obj, tpl in workloads(r):
        spec = tpl.get("spec") or {}
        pod_sc = spec.get("securityContext") or {}
        for role, c in all_containers(spec):
            where = f"{ref(obj)} {role} {c.get('name')}"
            res = c.get("resources") or {}
            for section in ("requests", "limits"):
                for resource in ("cpu", "memory"):
                    if resource not in (res.get(section) or {}):
                        problems.append(Problem("resources", f"{where} sets no {section}.{resource}"))
            for resource in ("cpu", "memory"):
                req = (res.get("requests") or {}).get(resource)
                lim = (res.get("limits") or {}).get(resource)
                if req is not None and lim is not None and quantity(req) > quantity(lim):
                    problems.append(Problem("resources", f"{where} requests more {resource} ({req}) than its limit ({lim})"))
            sc = c.get("securityContext")
            if not isinstance(sc, dict):
                problems.append(Problem("security-context", f"{where} has no securityContext"))
                sc = {}
            if sc and sc.get("allowPrivilegeEscalation") is not False:
                problems.append(Problem("security-context", f"{where} does not set allowPrivilegeEscalation: false"))
            if sc.get("privileged"):
                problems.append(Problem("security-context", f"{where} is privileged"))
            drop = ((sc.get("capabilities") or {}).get("drop")) or []
            if sc and "ALL" not in drop:
                problems.append(Problem("security-context", f"{where} does not drop ALL capabilities"))
            added = ((sc.get("capabilities") or {}).get("add")) or []
            if added:
                problems.append(Problem("security-context", f"{where} adds capabilities {added}"))
            non_root = sc.get("runAsNonRoot", pod_sc.get("runAsNonRoot"))
            user = sc.get("runAsUser", pod_sc.get("runAsUser"))
            if non_root is not True or user == 0:
                problems.append(Problem("security-context", f"{where} may run as root (runAsNonRoot is not true)"))
            seccomp = (sc.get("seccompProfile") or pod_sc.get("seccompProfile") or {}).get("type")
            if seccomp not in ("RuntimeDefault", "Localhost"):
                problems.append(Problem("security-context", f"{where} has no RuntimeDefault seccomp profile"))
            # A serving container (one with ports) needs all three probes.
            if role == "container" and c.get("ports"):
                for probe in ("startupProbe", "readinessProbe", "livenessProbe"):
                    if not c.get(probe):
                        problems.append(Problem("probes", f"{where} serves ports but has no {probe}"))
            for probe in ("startupProbe", "readinessProbe", "livenessProbe"):
                command = ((c.get(probe) or {}).get("exec") or {}).get("command") or []
                text = " ".join(str(x) for x in command)
                if re.search(r"(^|\s)(-p\S|--password)", text):
                    problems.append(Problem("secrets", f"{where} {probe} passes a password in argv: {text!r}"))
            for env in c.get("env") or []:
                name, value = env.get("name", ""), env.get("value")
                if not isinstance(value, str) or not value:
                    continue
                if SECRET_ENV.search(name) and not NOT_SECRET_ENV.search(name) and ENV_REF.sub("", value).strip():
                    problems.append(Problem("secrets", f"{where} env {name} holds a literal secret; use valueFrom.secretKeyRef"))
                for m in URL_CREDENTIALS.finditer(value):
                    if not ENV_REF.fullmatch(m.group(1)):
                        problems.append(Problem("secrets", f"{where} env {name} embeds a literal password in a URL"))
    return problems


def check_pod_security(r: Rendered) -> list[Problem]:
    problems = []
    for obj, tpl in workloads(r):
        spec = tpl.get("spec") or {}
        for flag in ("hostNetwork", "hostPID", "hostIPC"):
            if spec.get(flag):
                problems.append(Problem("pod-security", f"{ref(obj)} sets {flag}"))
        sa = spec.get("serviceAccountName") or spec.get("serviceAccount") or "default"
        if sa == "default" and spec.get("automountServiceAccountToken") is not False:
            problems.append(Problem("pod-security", f"{ref(obj)} mounts the default service account token (set automountServiceAccountToken: false)"))
        for vol in spec.get("volumes") or []:
            if "hostPath" in vol:
                problems.append(Problem("pod-security", f"{ref(obj)} mounts hostPath volume {vol.get('name')}"))
        for sysctl in (spec.get("securityContext") or {}).get("sysctls") or []:
            if sysctl.get("name") not in SAFE_SYSCTLS:
                problems.append(Problem("pod-security", f"{ref(obj)} sets unsafe sysctl {sysctl.get('name')}"))
        mounts_ok = {v.get("name") for v in spec.get("volumes") or []}
        claims = {vct.get("metadata", {}).get("name") for vct in (obj.get("spec") or {}).get("volumeClaimTemplates") or []}
        for role, c in all_containers(spec):
            for mount in c.get("volumeMounts") or []:
                if mount.get("name") not in mounts_ok | claims:
                    problems.append(Problem("volumes", f"{ref(obj)} {role} {c.get('name')} mounts undefined volume {mount.get('name')}"))
        for vol in spec.get("volumes") or []:
            claim = (vol.get("persistentVolumeClaim") or {}).get("claimName")
            if claim and r.get("PersistentVolumeClaim", claim) is None:
                problems.append(Problem("volumes", f"{ref(obj)} uses PVC {claim}, which the chart does not create"))
    return problems


def check_selectors(r: Rendered) -> list[Problem]:
    problems = []
    wl = list(workloads(r))
    for obj, tpl in wl:
        if obj.get("kind") in ("Pod", "CronJob", "Job"):
            continue
        selector = (obj.get("spec") or {}).get("selector") or {}
        match = selector.get("matchLabels") or {}
        if selector.get("matchExpressions"):
            problems.append(Problem("selectors", f"{ref(obj)} uses matchExpressions; only matchLabels selectors are checked"))
        if not match:
            problems.append(Problem("selectors", f"{ref(obj)} has an empty selector"))
            continue
        if not selector_matches(match, pod_labels(tpl)):
            problems.append(Problem("selectors", f"{ref(obj)} selector {match} does not match its own pod template"))
        for other, other_tpl in wl:
            if other is obj:
                continue
            if selector_matches(match, pod_labels(other_tpl)):
                problems.append(Problem("selectors", f"{ref(obj)} selector {match} also matches the pods of {ref(other)}"))
    for svc in r.of_kind("Service"):
        spec = svc.get("spec") or {}
        if spec.get("type") == "ExternalName":
            continue
        selector = spec.get("selector") or {}
        if not selector:
            problems.append(Problem("selectors", f"{ref(svc)} has no selector"))
            continue
        targets = [(o, t) for o, t in wl if selector_matches(selector, pod_labels(t))]
        if not targets:
            problems.append(Problem("selectors", f"{ref(svc)} selects no pod of the release"))
            continue
        if len(targets) > 1:
            problems.append(Problem("selectors", f"{ref(svc)} selects pods of several workloads: {', '.join(ref(o) for o, _ in targets)}"))
        for port in spec.get("ports") or []:
            target = port.get("targetPort", port.get("port"))
            for o, t in targets:
                if _container_port(t, target) is None:
                    problems.append(Problem("selectors", f"{ref(svc)} port {port.get('name') or port.get('port')} targets {target!r}, which {ref(o)} does not expose"))
    for sts in r.of_kind("StatefulSet"):
        name = (sts.get("spec") or {}).get("serviceName")
        svc = r.get("Service", name) if name else None
        if svc is None:
            problems.append(Problem("selectors", f"{ref(sts)} serviceName {name!r} is not a Service of the release"))
        elif (svc.get("spec") or {}).get("clusterIP") != "None":
            problems.append(Problem("selectors", f"{ref(sts)} governing Service {name} is not headless"))
    return problems


def _container_port(tpl: dict, target) -> int | None:
    for c in (tpl.get("spec") or {}).get("containers") or []:
        for p in c.get("ports") or []:
            if target == p.get("name") or target == p.get("containerPort"):
                return p.get("containerPort")
    return None


def check_ingress(r: Rendered) -> list[Problem]:
    problems = []
    ingresses = r.of_kind("Ingress")
    enabled = value_at(r.values, "ingress.enabled")
    if enabled is False and ingresses:
        problems.append(Problem("ingress", f"ingress.enabled is false but {', '.join(ref(i) for i in ingresses)} is rendered"))
    if enabled is True and not ingresses:
        problems.append(Problem("ingress", "ingress.enabled is true but no Ingress is rendered"))
    for ing in ingresses:
        spec = ing.get("spec") or {}
        hosts = set()
        for rule in spec.get("rules") or []:
            hosts.add(rule.get("host"))
            if not rule.get("host"):
                problems.append(Problem("ingress", f"{ref(ing)} has a rule without host"))
            for path in ((rule.get("http") or {}).get("paths")) or []:
                backend = (path.get("backend") or {}).get("service") or {}
                svc = r.get("Service", backend.get("name"))
                if svc is None:
                    problems.append(Problem("ingress", f"{ref(ing)} path {path.get('path')} routes to Service {backend.get('name')!r}, which the chart does not create"))
                    continue
                port = backend.get("port") or {}
                ports = (svc.get("spec") or {}).get("ports") or []
                if not any(port.get("name") == p.get("name") if "name" in port else port.get("number") == p.get("port") for p in ports):
                    problems.append(Problem("ingress", f"{ref(ing)} path {path.get('path')} uses port {port} that {ref(svc)} does not have"))
        for tls in spec.get("tls") or []:
            if not tls.get("secretName"):
                problems.append(Problem("ingress", f"{ref(ing)} has a tls entry without secretName"))
            if not tls.get("hosts") or not set(tls["hosts"]) <= hosts:
                problems.append(Problem("ingress", f"{ref(ing)} tls hosts {tls.get('hosts')} do not match its rules {sorted(h for h in hosts if h)}"))
    return problems


def _peer_selects(peer: dict, labels: dict) -> bool:
    """Whether an in-namespace peer (podSelector only) selects pods with these labels."""
    if "namespaceSelector" in peer or "ipBlock" in peer:
        return False
    sel = peer.get("podSelector") or {}
    return selector_matches(sel.get("matchLabels") or {}, labels)


def policy_types(pol: dict) -> set[str]:
    """A NetworkPolicy's policyTypes; unset = Ingress, plus Egress when it has egress rules."""
    spec = pol.get("spec") or {}
    types = spec.get("policyTypes")
    if types:
        return set(types)
    return {"Ingress"} | ({"Egress"} if spec.get("egress") else set())


def _metrics_only(rule: dict, templates: list[dict]) -> bool:
    """Whether an ingress rule opens only ports that every pod it applies to names `metrics`."""
    ports = rule.get("ports") or []
    if not ports or not templates:
        return False
    for port in ports:
        target = port.get("port")
        if target is None or port.get("endPort") is not None:
            return False
        for tpl in templates:
            named = [p for c in (tpl.get("spec") or {}).get("containers") or [] for p in c.get("ports") or []
                     if target in (p.get("name"), p.get("containerPort"))]
            if not named or any(p.get("name") != "metrics" for p in named):
                return False
    return True


def check_network_policies(r: Rendered) -> list[Problem]:
    """NetworkPolicies, when the chart renders any or networkPolicy.enabled is true.

    With networkPolicy.enabled every pod of the release must be isolated for ingress: by a
    namespace-wide default-deny (podSelector {}, Ingress+Egress, no rules), or by a policy that
    selects it with policyType Ingress (a chart whose pods must keep open egress, like the control
    plane's). A peer admitting every namespace is refused, except on ports that all pods the
    policy selects name `metrics` (Prometheus runs in varying namespaces; metrics ports serve
    nothing else).
    """
    problems = []
    policies = r.of_kind("NetworkPolicy")
    enabled = value_at(r.values, "networkPolicy.enabled")
    if enabled is False and policies:
        problems.append(Problem("network-policy", "networkPolicy.enabled is false but NetworkPolicies are rendered"))
    pods = [(o, pod_labels(t)) for o, t in workloads(r)]
    if enabled is True:
        deny = [p for p in policies
                if ((p.get("spec") or {}).get("podSelector") or {}) == {}
                and set((p.get("spec") or {}).get("policyTypes") or []) == {"Ingress", "Egress"}
                and not (p.get("spec") or {}).get("ingress") and not (p.get("spec") or {}).get("egress")]
        if not deny:
            for obj, labels in pods:
                if not any("Ingress" in policy_types(p)
                           and selector_matches(((p.get("spec") or {}).get("podSelector") or {}).get("matchLabels") or {}, labels)
                           for p in policies):
                    problems.append(Problem("network-policy", f"networkPolicy.enabled is true but no default-deny policy (podSelector {{}}, Ingress+Egress, no rules) is rendered and no NetworkPolicy isolates the pods of {ref(obj)} (selects them with policyType Ingress)"))
    for pol in policies:
        spec = pol.get("spec") or {}
        sel = (spec.get("podSelector") or {}).get("matchLabels") or {}
        if sel and not any(selector_matches(sel, labels) for _, labels in pods):
            problems.append(Problem("network-policy", f"{ref(pol)} podSelector {sel} selects no pod of the release"))
        selected = [t for _, t in workloads(r) if selector_matches(sel, pod_labels(t))]
        for direction, key in (("ingress", "from"), ("egress", "to")):
            for rule in spec.get(direction) or []:
                peers = rule.get(key) or []
                if not peers:
                    problems.append(Problem("network-policy", f"{ref(pol)} has an {direction} rule open to every peer"))
                external = any("namespaceSelector" in p or "ipBlock" in p for p in peers)
                if external and not rule.get("ports"):
                    problems.append(Problem("network-policy", f"{ref(pol)} opens all ports in an {direction} rule with peers outside the namespace"))
                for peer in peers:
                    ns_sel = peer.get("namespaceSelector")
                    if ns_sel is not None and not (ns_sel.get("matchLabels") or ns_sel.get("matchExpressions")):
                        if not (direction == "ingress" and _metrics_only(rule, selected)):
                            problems.append(Problem("network-policy", f"{ref(pol)} {direction} admits every namespace"))
                    if "podSelector" in peer and ns_sel is None:
                        psel = (peer.get("podSelector") or {}).get("matchLabels") or {}
                        if psel and not any(selector_matches(psel, labels) for _, labels in pods):
                            problems.append(Problem("network-policy", f"{ref(pol)} {direction} peer {psel} matches no pod of the release"))
                    block = peer.get("ipBlock")
                    if block:
                        problems.extend(_check_ip_block(pol, direction, block))
    # Every Service port must be admitted by some policy that selects its pods.
    if policies:
        for svc in r.of_kind("Service"):
            selector = (svc.get("spec") or {}).get("selector") or {}
            for obj, tpl in workloads(r):
                labels = pod_labels(tpl)
                if not selector or not selector_matches(selector, labels):
                    continue
                for port in (svc.get("spec") or {}).get("ports") or []:
                    number = _container_port(tpl, port.get("targetPort", port.get("port")))
                    if number is not None and not _admitted(policies, labels, number):
                        problems.append(Problem("network-policy", f"no NetworkPolicy admits traffic to {ref(svc)} port {port.get('name') or port.get('port')} ({ref(obj)} port {number})"))
    return problems


def _admitted(policies: list[dict], labels: dict, port: int) -> bool:
    for pol in policies:
        spec = pol.get("spec") or {}
        if not selector_matches((spec.get("podSelector") or {}).get("matchLabels") or {}, labels):
            continue
        for rule in spec.get("ingress") or []:
            ports = rule.get("ports") or []
            if not ports or any(p.get("port") == port for p in ports):
                return True
    return False


def _check_ip_block(pol: dict, direction: str, block: dict) -> list[Problem]:
    problems = []
    try:
        cidr = ipaddress.ip_network(block.get("cidr", ""), strict=False)
        excepts = [ipaddress.ip_network(e, strict=False) for e in block.get("except") or []]
    except ValueError as err:
        return [Problem("network-policy", f"{ref(pol)} has an invalid ipBlock: {err}")]
    for e in excepts:
        if e.version != cidr.version or not e.subnet_of(cidr):
            problems.append(Problem("network-policy", f"{ref(pol)} ipBlock except {e} is not inside {cidr}"))
    if direction == "egress" and cidr.version == 4:
        if METADATA_SERVICE in cidr and not any(METADATA_SERVICE in e for e in excepts):
            problems.append(Problem("network-policy", f"{ref(pol)} allows egress to the cloud metadata service 169.254.169.254 ({cidr})"))
        for private in PRIVATE_V4:
            if private.overlaps(cidr) and not any(private.subnet_of(e) for e in excepts if e.version == 4):
                if not cidr.subnet_of(private):
                    problems.append(Problem("network-policy", f"{ref(pol)} egress {cidr} does not exclude private range {private}"))
    return problems


def check_storage(r: Rendered) -> list[Problem]:
    problems = []
    explicit_empty = any(v == "-" for v in _values_with_key(r.values, "storageclass"))
    claims = [(pvc, pvc.get("spec") or {}) for pvc in r.of_kind("PersistentVolumeClaim")]
    for obj in r.of_kind("StatefulSet"):
        for vct in (obj.get("spec") or {}).get("volumeClaimTemplates") or []:
            claims.append((obj, vct.get("spec") or {}))
            # A StatefulSet's volumeClaimTemplates cannot change: a label that changes with the
            # chart version makes every upgrade fail.
            labels = ((vct.get("metadata") or {}).get("labels")) or {}
            for key in ("helm.sh/chart", "app.kubernetes.io/version"):
                if key in labels:
                    problems.append(Problem("storage", f"{ref(obj)} volumeClaimTemplate {(vct.get('metadata') or {}).get('name')} carries label {key}, which changes with upgrades (volumeClaimTemplates are immutable)"))
    for owner, spec in claims:
        if spec.get("storageClassName") == "" and not explicit_empty:
            problems.append(Problem("storage", f"{ref(owner)} renders storageClassName: \"\" (disables dynamic provisioning) although no value asks for it"))
        if not ((spec.get("resources") or {}).get("requests") or {}).get("storage"):
            problems.append(Problem("storage", f"{ref(owner)} claims no storage size"))
    return problems


def _values_with_key(values, needle: str) -> Iterator:
    if isinstance(values, dict):
        for k, v in values.items():
            if needle in str(k).lower() and not isinstance(v, (dict, list)):
                yield v
            yield from _values_with_key(v, needle)
    elif isinstance(values, list):
        for v in values:
            yield from _values_with_key(v, needle)


def check_secrets(r: Rendered) -> list[Problem]:
    problems = []
    defaults = {v for v in _all_strings(r.default_values) if len(v) >= 4}
    for sec in r.of_kind("Secret"):
        entries = dict(sec.get("stringData") or {})
        for k, v in (sec.get("data") or {}).items():
            try:
                entries[k] = base64.b64decode(str(v)).decode("utf-8", "replace")
            except ValueError:
                entries[k] = str(v)
        for k, v in entries.items():
            if v in defaults:
                problems.append(Problem("secrets", f"{ref(sec)} key {k} holds a literal default from values.yaml"))
    return problems


def _all_strings(values) -> Iterator[str]:
    if isinstance(values, dict):
        for v in values.values():
            yield from _all_strings(v)
    elif isinstance(values, list):
        for v in values:
            yield from _all_strings(v)
    elif isinstance(values, str):
        yield values


def check_notes(r: Rendered) -> list[Problem]:
    if not r.has_notes_template:
        return []
    problems = []
    if not r.notes.strip():
        problems.append(Problem("notes", "NOTES.txt renders empty"))
    if "<no value>" in r.notes:
        problems.append(Problem("notes", "NOTES.txt contains '<no value>'"))
    m = STUB_WORDS.search(r.notes)
    if m:
        problems.append(Problem("notes", f"NOTES.txt contains stub talk: {m.group(0)!r}"))
    return problems


def check_quota(r: Rendered) -> list[Problem]:
    """The release's pods (with init containers and rolling-update surge) fit its quota and limits."""
    problems = []
    quotas = r.of_kind("ResourceQuota")
    ranges = r.of_kind("LimitRange")
    need = {"requests.cpu": 0.0, "requests.memory": 0.0, "limits.cpu": 0.0, "limits.memory": 0.0,
            "pods": 0.0, "services": float(len(r.of_kind("Service"))), "persistentvolumeclaims": 0.0,
            "requests.storage": 0.0}
    need["services.loadbalancers"] = float(sum(1 for s in r.of_kind("Service") if (s.get("spec") or {}).get("type") == "LoadBalancer"))
    need["services.nodeports"] = float(sum(1 for s in r.of_kind("Service") if (s.get("spec") or {}).get("type") in ("NodePort", "LoadBalancer")))
    for obj, tpl in workloads(r):
        spec = tpl.get("spec") or {}
        pods = replicas_of(obj) + _surge(obj)
        need["pods"] += pods
        for section in ("requests", "limits"):
            for resource in ("cpu", "memory"):
                try:
                    main = sum(quantity(((c.get("resources") or {}).get(section) or {}).get(resource, 0)) for c in spec.get("containers") or [])
                    init = max([quantity(((c.get("resources") or {}).get(section) or {}).get(resource, 0)) for c in spec.get("initContainers") or []] or [0.0])
                except ValueError as err:
                    problems.append(Problem("quota", f"{ref(obj)}: {err}"))
                    continue
                need[f"{section}.{resource}"] += pods * max(main, init)
        for vct in (obj.get("spec") or {}).get("volumeClaimTemplates") or []:
            need["persistentvolumeclaims"] += replicas_of(obj)
            need["requests.storage"] += replicas_of(obj) * quantity((((vct.get("spec") or {}).get("resources") or {}).get("requests") or {}).get("storage", 0))
    for pvc in r.of_kind("PersistentVolumeClaim"):
        need["persistentvolumeclaims"] += 1
        need["requests.storage"] += quantity((((pvc.get("spec") or {}).get("resources") or {}).get("requests") or {}).get("storage", 0))
    for q in quotas:
        hard = (q.get("spec") or {}).get("hard") or {}
        for key, amount in need.items():
            if key in hard and amount > quantity(hard[key]) + 1e-9:
                shown = fmt(key, amount) if key.endswith(("cpu", "memory")) else (f"{amount / 2**30:.1f}Gi" if key.endswith("storage") else f"{amount:.0f}")
                why = " (all containers incl. init containers, rolling-update surge included)" if key.startswith(("requests.", "limits.", "pods")) and not key.endswith("storage") else ""
                problems.append(Problem("quota", f"{ref(q)} {key}={hard[key]} is too small: the release needs {shown}{why}"))
    for lr in ranges:
        for item in (lr.get("spec") or {}).get("limits") or []:
            if item.get("type") == "Container":
                problems.extend(_container_bounds(r, lr, item))
            if item.get("type") == "PersistentVolumeClaim":
                problems.extend(_claim_bounds(r, lr, item))
    return problems


def _surge(obj: dict) -> int:
    if obj.get("kind") != "Deployment":
        return 0
    strategy = (obj.get("spec") or {}).get("strategy") or {}
    if strategy.get("type", "RollingUpdate") != "RollingUpdate":
        return 0
    surge = (strategy.get("rollingUpdate") or {}).get("maxSurge", "25%")
    replicas = replicas_of(obj)
    if isinstance(surge, str) and surge.endswith("%"):
        return math.ceil(replicas * float(surge[:-1]) / 100)
    return int(surge)


def _container_bounds(r: Rendered, lr: dict, item: dict) -> list[Problem]:
    problems = []
    for obj, tpl in workloads(r):
        for role, c in all_containers(tpl.get("spec") or {}):
            res = c.get("resources") or {}
            for resource in ("cpu", "memory"):
                for section in ("requests", "limits"):
                    amount = (res.get(section) or {}).get(resource)
                    if amount is None:
                        continue
                    if "max" in item and resource in item["max"] and quantity(amount) > quantity(item["max"][resource]):
                        problems.append(Problem("quota", f"{ref(obj)} {role} {c.get('name')} {section}.{resource}={amount} exceeds {ref(lr)} max {item['max'][resource]}"))
                    if "min" in item and resource in item["min"] and quantity(amount) < quantity(item["min"][resource]):
                        problems.append(Problem("quota", f"{ref(obj)} {role} {c.get('name')} {section}.{resource}={amount} is below {ref(lr)} min {item['min'][resource]}"))
    return problems


def _claim_bounds(r: Rendered, lr: dict, item: dict) -> list[Problem]:
    problems = []
    sizes = [(ref(p), (((p.get("spec") or {}).get("resources") or {}).get("requests") or {}).get("storage")) for p in r.of_kind("PersistentVolumeClaim")]
    for sts in r.of_kind("StatefulSet"):
        for vct in (sts.get("spec") or {}).get("volumeClaimTemplates") or []:
            sizes.append((f"{ref(sts)} claim {(vct.get('metadata') or {}).get('name')}", (((vct.get("spec") or {}).get("resources") or {}).get("requests") or {}).get("storage")))
    for where, size in sizes:
        if size is None:
            continue
        if "max" in item and "storage" in item["max"] and quantity(size) > quantity(item["max"]["storage"]):
            problems.append(Problem("quota", f"{where} size {size} exceeds {ref(lr)} max {item['max']['storage']}"))
        if "min" in item and "storage" in item["min"] and quantity(size) < quantity(item["min"]["storage"]):
            problems.append(Problem("quota", f"{where} size {size} is below {ref(lr)} min {item['min']['storage']}"))
    return problems


GENERIC_CHECKS: list[Callable[[Rendered], list[Problem]]] = [
    check_rendering, check_metadata, check_images, check_containers, check_pod_security,
    check_selectors, check_ingress, check_network_policies, check_storage, check_secrets,
    check_notes, check_quota,
]


# ---------------------------------------------------------------------------------------------
# Kubernetes schema validation (kubernetes-validate ships the OpenAPI-derived JSON schemas)
# ---------------------------------------------------------------------------------------------
@functools.lru_cache(maxsize=None)
def _schema_validator(version: str, kind: str, api_version: str):
    import json

    import importlib_resources
    import jsonschema
    from kubernetes_validate import utils as kv
    from referencing import Registry, Resource

    base = importlib_resources.files("kubernetes_validate").joinpath("kubernetes-json-schema")
    available = [v for v in kv.all_versions() if kv.major_minor(v) == version]
    if not available:
        raise LookupError(f"kubernetes-validate has no schemas for Kubernetes {version}")
    directory = base.joinpath(f"v{available[-1]}-local-strict")
    group = re.sub(r"^([^./]*)(?:\.[^/]*)?/", r"\1-", api_version)
    schema_file = directory.joinpath(f"{kind.lower()}-{group}.json")
    if not schema_file.is_file():
        return None
    schema = json.loads(schema_file.read_text())
    registry = Resource.from_contents(schema) @ Registry()
    registry = _definitions(str(directory)) @ registry
    return jsonschema.Draft202012Validator(schema, registry=registry)


@functools.lru_cache(maxsize=None)
def _definitions(directory: str):
    import json
    from pathlib import Path

    from referencing import Resource

    return Resource.from_contents(json.loads(Path(directory, "_definitions.json").read_text()))


def schema_versions(min_kube_version: str | None) -> list[str]:
    """The oldest Kubernetes version the chart claims (if schemas exist for it) and the newest."""
    from kubernetes_validate import utils as kv

    versions = sorted({kv.major_minor(v) for v in kv.all_versions()}, key=lambda v: tuple(int(x) for x in v.split(".")))
    chosen = [versions[-1]]
    if min_kube_version:
        oldest = next((v for v in versions if tuple(int(x) for x in v.split(".")) >= tuple(int(x) for x in min_kube_version.split("."))), None)
        if oldest and oldest not in chosen:
            chosen.insert(0, oldest)
    return chosen


def check_schema(r: Rendered, versions: Iterable[str], skip_kinds: Iterable[str] = ()) -> list[Problem]:
    """Strict schema validation; `skip_kinds` are CRD kinds (kubernetes-validate knows only
    built-in ones), declared by the value set with `# lint: api-versions=`."""
    problems = []
    skip = set(skip_kinds)
    for version in versions:
        for obj in r.objects:
            if obj.get("kind") in skip:
                continue
            try:
                validator = _schema_validator(version, str(obj.get("kind")), str(obj.get("apiVersion")))
            except LookupError as err:
                return [Problem("schema", str(err))]
            if validator is None:
                problems.append(Problem("schema", f"{ref(obj)}: Kubernetes {version} has no {obj.get('apiVersion')} {obj.get('kind')}"))
                continue
            for err in sorted(validator.iter_errors(obj), key=lambda e: list(e.absolute_path)):
                path = ".".join(str(p) for p in err.absolute_path) or "(root)"
                problems.append(Problem("schema", f"{ref(obj)} (Kubernetes {version}) {path}: {err.message[:300]}"))
    return problems
