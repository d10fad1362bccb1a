"""A minimal in-process Kubernetes API server, just enough for helm to install a chart into it.

helm-sdkpy exposes no `helm template` / client-only dry run: its Install always talks to a
cluster. Pointed at this server (HELM_DRIVER=memory keeps the release records out of it), a
real helm install renders the chart exactly as it would for a cluster -- `required` and `fail`
abort with their messages, the release name and namespace are the real ones -- and hands back
the manifest and NOTES, which the linter then checks.

Guarantees:
- Listens on 127.0.0.1 on an ephemeral port only; nothing leaves the machine.
- Serves discovery for the built-in API groups listed in RESOURCES, plus the CRD kinds a value
  set declares (`reset(api_versions=...)`); any other kind makes helm fail with "no matches for
  kind", as an API server without that kind would.
- Stores objects in memory per path (GET/POST/PUT/PATCH/DELETE, lists) so helm's
  create-then-read flow works; `reset()` empties it between installs.

Caveats:
- No validation, admission, defaulting or status: objects are echoed back as sent. Schema
  validation of the rendered objects is the linter's job (kubernetes-validate).
- Protobuf request bodies are refused (415); with HELM_DRIVER=memory helm sends none.
"""

from __future__ import annotations

import json
import re
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import urlsplit

KUBE_VERSION = ("1", "33")

# groupVersion -> [(plural, kind, namespaced)]
RESOURCES: dict[str, list[tuple[str, str, bool]]] = {
    "v1": [
        ("configmaps", "ConfigMap", True),
        ("endpoints", "Endpoints", True),
        ("events", "Event", True),
        ("limitranges", "LimitRange", True),
        ("namespaces", "Namespace", False),
        ("nodes", "Node", False),
        ("persistentvolumeclaims", "PersistentVolumeClaim", True),
        ("persistentvolumes", "PersistentVolume", False),
        ("pods", "Pod", True),
        ("replicationcontrollers", "ReplicationController", True),
        ("resourcequotas", "ResourceQuota", True),
        ("secrets", "Secret", True),
        ("serviceaccounts", "ServiceAccount", True),
        ("services", "Service", True),
    ],
    "apps/v1": [
        ("controllerrevisions", "ControllerRevision", True),
        ("daemonsets", "DaemonSet", True),
        ("deployments", "Deployment", True),
        ("replicasets", "ReplicaSet", True),
        ("statefulsets", "StatefulSet", True),
    ],
    "batch/v1": [("cronjobs", "CronJob", True), ("jobs", "Job", True)],
    "autoscaling/v2": [("horizontalpodautoscalers", "HorizontalPodAutoscaler", True)],
    "policy/v1": [("poddisruptionbudgets", "PodDisruptionBudget", True)],
    "networking.k8s.io/v1": [
        ("ingressclasses", "IngressClass", False),
        ("ingresses", "Ingress", True),
        ("networkpolicies", "NetworkPolicy", True),
    ],
    "rbac.authorization.k8s.io/v1": [
        ("clusterrolebindings", "ClusterRoleBinding", False),
        ("clusterroles", "ClusterRole", False),
        ("rolebindings", "RoleBinding", True),
        ("roles", "Role", True),
    ],
    "scheduling.k8s.io/v1": [("priorityclasses", "PriorityClass", False)],
    "storage.k8s.io/v1": [("storageclasses", "StorageClass", False)],
    "coordination.k8s.io/v1": [("leases", "Lease", True)],
    "admissionregistration.k8s.io/v1": [
        ("validatingadmissionpolicies", "ValidatingAdmissionPolicy", False),
        ("validatingadmissionpolicybindings", "ValidatingAdmissionPolicyBinding", False),
    ],
}


_PATH = re.compile(
    r"^/(?:api/(?P<core>v1)|apis/(?P<group>[^/]+)/(?P<version>[^/]+))"
    r"(?:/namespaces/(?P<ns>[^/]+))?/(?P<res>[^/]+)(?:/(?P<name>[^/]+))?(?:/(?P<sub>[^/]+))?$"
)


def _resource_list(resources: dict, group_version: str) -> dict:
    return {
        "kind": "APIResourceList",
        "apiVersion": "v1",
        "groupVersion": group_version,
        "resources": [
            {
                "name": plural,
                "singularName": kind.lower(),
                "namespaced": namespaced,
                "kind": kind,
                "verbs": ["create", "delete", "deletecollection", "get", "list", "patch", "update", "watch"],
            }
            for plural, kind, namespaced in resources[group_version]
        ],
    }


def _group_list(resources: dict) -> dict:
    groups = []
    for gv in resources:
        if gv == "v1":
            continue
        group, version = gv.split("/")
        entry = {"groupVersion": gv, "version": version}
        groups.append({"name": group, "versions": [entry], "preferredVersion": entry})
    return {"kind": "APIGroupList", "apiVersion": "v1", "groups": groups}


def _merge_patch(target, patch):
    """RFC 7386 JSON merge patch (also used for strategic merge patches: close enough here)."""
    if not isinstance(patch, dict):
        return patch
    result = dict(target) if isinstance(target, dict) else {}
    for key, value in patch.items():
        if value is None:
            result.pop(key, None)
        else:
            result[key] = _merge_patch(result.get(key), value)
    return result


class FakeKube:
    """The fake API server; use as a context manager or call start()/stop()."""

    def __init__(self, workdir: Path):
        self.workdir = Path(workdir)
        self.objects: dict[str, dict] = {}
        self.requests: list[str] = []
        # Kinds served on top of RESOURCES for the next install (CRDs a value set declares with
        # `# lint: api-versions=group/version/Kind`), as on a cluster with those CRDs installed.
        self.extra: dict[str, list[tuple[str, str, bool]]] = {}
        self._lock = threading.Lock()
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None
        self.kubeconfig: Path | None = None

    # -- lifecycle -------------------------------------------------------------------------
    def start(self) -> "FakeKube":
        fake = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            # Headers and body go out in two writes: without TCP_NODELAY every response waits
            # ~40 ms for a delayed ACK.
            disable_nagle_algorithm = True

            def log_message(self, *args):  # keep the linter's output clean
                pass

            def do_GET(self):
                fake._handle(self, "GET")

            def do_POST(self):
                fake._handle(self, "POST")

            def do_PUT(self):
                fake._handle(self, "PUT")

            def do_PATCH(self):
                fake._handle(self, "PATCH")

            def do_DELETE(self):
                fake._handle(self, "DELETE")

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, name="fakekube", daemon=True)
        self._thread.start()
        port = self._server.server_address[1]
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.kubeconfig = self.workdir / "kubeconfig.yaml"
        self.kubeconfig.write_text(
            "apiVersion: v1\nkind: Config\n"
            f"clusters:\n- name: fake\n  cluster:\n    server: http://127.0.0.1:{port}\n"
            "users:\n- name: lint\n  user:\n    token: lint\n"
            "contexts:\n- name: fake\n  context:\n    cluster: fake\n    user: lint\n"
            "current-context: fake\n"
        )
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def __enter__(self) -> "FakeKube":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    def reset(self, api_versions: tuple[str, ...] = ()) -> None:
        """Forget every object; serve exactly the built-in kinds plus `api_versions`
        ("group/version/Kind", namespaced; plural = lowercase kind + "s")."""
        extra: dict[str, list[tuple[str, str, bool]]] = {}
        for item in api_versions:
            group, version, kind = item.rsplit("/", 2)
            extra.setdefault(f"{group}/{version}", []).append((kind.lower() + "s", kind, True))
        with self._lock:
            self.objects.clear()
            self.requests.clear()
            self.extra = extra

    def resources(self) -> dict[str, list[tuple[str, str, bool]]]:
        merged = {gv: list(rs) for gv, rs in RESOURCES.items()}
        for gv, rs in self.extra.items():
            merged.setdefault(gv, []).extend(rs)
        return merged

    # -- request handling ------------------------------------------------------------------
    def _send(self, handler: BaseHTTPRequestHandler, code: int, body: dict) -> None:
        data = json.dumps(body).encode()
        handler.send_response(code)
        handler.send_header("Content-Type", "application/json")
        handler.send_header("Content-Length", str(len(data)))
        handler.end_headers()
        handler.wfile.write(data)

    def _status(self, handler, code: int, reason: str, message: str) -> None:
        self._send(
            handler,
            code,
            {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
             "reason": reason, "message": message, "code": code},
        )

    def _body(self, handler: BaseHTTPRequestHandler):
        length = int(handler.headers.get("Content-Length") or 0)
        raw = handler.rfile.read(length) if length else b""
        if "protobuf" in (handler.headers.get("Content-Type") or ""):
            return None
        return json.loads(raw or b"{}")

    def _handle(self, handler: BaseHTTPRequestHandler, method: str) -> None:
        path = urlsplit(handler.path).path.rstrip("/") or "/"
        with self._lock:
            self.requests.append(f"{method} {handler.path}")
        if method == "GET" and path == "/version":
            major, minor = KUBE_VERSION
            return self._send(handler, 200, {
                "major": major, "minor": minor, "gitVersion": f"v{major}.{minor}.0",
                "platform": "linux/amd64", "goVersion": "go1.22.0", "compiler": "gc",
            })
        if method == "GET" and path == "/api":
            return self._send(handler, 200, {"kind": "APIVersions", "versions": ["v1"],
                                             "serverAddressByClientCIDRs": []})
        resources = self.resources()
        kinds = {plural: kind for rs in resources.values() for plural, kind, _ in rs}
        if method == "GET" and path == "/apis":
            return self._send(handler, 200, _group_list(resources))
        if method == "GET" and path == "/api/v1":
            return self._send(handler, 200, _resource_list(resources, "v1"))
        m = re.match(r"^/apis/([^/]+)/([^/]+)$", path)
        if method == "GET" and m:
            gv = f"{m.group(1)}/{m.group(2)}"
            if gv in resources:
                return self._send(handler, 200, _resource_list(resources, gv))
            return self._status(handler, 404, "NotFound", f"the server could not find {gv}")

        if "/secrets" in path and "owner%3Dhelm" in handler.path:
            return self._status(handler, 500, "InternalError",
                                "helm keeps its release records in the fake cluster: start the process with "
                                "HELM_DRIVER=memory in its environment (lint_charts.py re-executes itself so)")
        m = _PATH.match(path)
        if not m or m.group("res") not in kinds:
            return self._status(handler, 404, "NotFound", f"the server could not find {path}")
        res, name, ns = m.group("res"), m.group("name"), m.group("ns")
        if m.group("sub"):
            return self._status(handler, 405, "MethodNotAllowed", "subresources are not served")
        if res == "namespaces" and name and method == "GET":
            return self._send(handler, 200, {"apiVersion": "v1", "kind": "Namespace",
                                             "metadata": {"name": name}, "status": {"phase": "Active"}})
        collection = path if not name else path.rsplit("/", 1)[0]

        if method == "GET" and not name:
            with self._lock:
                items = [o for k, o in self.objects.items() if k.rsplit("/", 1)[0] == collection]
            return self._send(handler, 200, {"kind": f"{kinds[res]}List", "apiVersion": "v1",
                                             "metadata": {"resourceVersion": "1"}, "items": items})
        if method == "GET":
            with self._lock:
                obj = self.objects.get(path)
            if obj is None:
                return self._status(handler, 404, "NotFound", f'{res} "{name}" not found')
            return self._send(handler, 200, obj)

        if method == "DELETE":
            with self._lock:
                self.objects.pop(path, None)
            return self._send(handler, 200, {"kind": "Status", "apiVersion": "v1", "status": "Success"})

        body = self._body(handler)
        if body is None:
            return self._status(handler, 415, "UnsupportedMediaType", "protobuf bodies are not served")
        if method == "POST":
            if name:
                return self._status(handler, 405, "MethodNotAllowed", "POST to an object path")
            meta = body.setdefault("metadata", {})
            if not meta.get("name"):
                return self._status(handler, 422, "Invalid", "metadata.name is required")
            key = f"{collection}/{meta['name']}"
            with self._lock:
                if key in self.objects:
                    return self._status(handler, 409, "AlreadyExists", f'{res} "{meta["name"]}" already exists')
                if ns:
                    meta.setdefault("namespace", ns)
                meta.update({"uid": str(uuid.uuid4()), "resourceVersion": "1",
                             "creationTimestamp": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())})
                self.objects[key] = body
            return self._send(handler, 201, body)
        with self._lock:
            current = self.objects.get(path)
        if current is None:
            return self._status(handler, 404, "NotFound", f'{res} "{name}" not found')
        updated = body if method == "PUT" else _merge_patch(current, body if isinstance(body, dict) else {})
        with self._lock:
            self.objects[path] = updated
        return self._send(handler, 200, updated)
