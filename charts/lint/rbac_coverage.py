"""The control plane's RBAC (charts/storeflow) against what provisioning needs.

What the workers do in the cluster (executors/src): ensure-namespace applies and reads store
namespaces, teardown deletes them; ensure-store-secret creates, reads and patches the Secret
`store-secrets`; install-chart / uninstall-chart run helm on the store chart (helm reads, creates,
patches and deletes every kind the chart renders, and keeps its release records per HELM_DRIVER);
wait-ready lists pods, deployments and statefulsets; WP-CLI and the Medusa admin user run over
pods/exec; setup and verification go through services/proxy (GET and POST).

`check(control_plane, store)` takes one rendered value set of charts/storeflow and every rendered
ci value set of charts/ecommerce-store, and reports:
- `rbac`: a kind the store chart creates (in any value set) without every verb helm needs
  (get, list, watch, create, update, patch, delete) for the workers' service account, bound
  cluster-wide (store namespaces are created at run time, so a RoleBinding cannot reach them);
  an executor need that is not granted; any grant that nothing needs (least privilege); a
  wildcard; a binding for the API's service account (the API never calls Kubernetes to work).
- `admission`: with rbac.namespaceFence.enabled, a write the workers are granted that the
  namespace fence (ValidatingAdmissionPolicies) does not cover, and the fence's CEL expressions
  evaluated (cel-python) against requests that must be allowed and requests that must be
  refused.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from checks import Problem, Rendered, pod_template, ref, value_at
from fakekube import RESOURCES

HELM_VERBS = frozenset({"get", "list", "watch", "create", "update", "patch", "delete"})
WRITE_VERBS = {"create": "CREATE", "update": "UPDATE", "patch": "UPDATE", "delete": "DELETE"}
# Subresources whose every request is a CONNECT in admission.
CONNECT_SUBRESOURCES = {"pods/exec", "pods/attach", "pods/portforward", "services/proxy"}
STORE_SECRET = "store-secrets"
MANAGED_BY = ("app.kubernetes.io/managed-by", "storeflow")


@dataclass(frozen=True)
class Need:
    group: str
    resource: str
    verbs: frozenset[str]
    why: str
    names: frozenset[str] | None = None  # None: any object; else only these names


@dataclass
class StoreRenders:
    """The store chart's rendered ci value sets."""

    chart: str
    value_sets: list[str] = field(default_factory=list)
    kinds: dict[tuple[str, str], list[str]] = field(default_factory=dict)  # (apiVersion, kind) -> value sets
    errors: list[str] = field(default_factory=list)

    def add(self, label: str, objects: list[dict]) -> None:
        self.value_sets.append(label)
        for obj in objects:
            self.kinds.setdefault((str(obj.get("apiVersion")), str(obj.get("kind"))), []).append(label)


def resource_of(api_version: str, kind: str) -> tuple[str, str] | None:
    """(API group, plural resource) of a built-in kind, from the lint's fake API discovery."""
    for plural, known, _ in RESOURCES.get(api_version, []):
        if known == kind:
            group = api_version.rsplit("/", 1)[0] if "/" in api_version else ""
            return group, plural
    return None


def needs(store: StoreRenders, helm_driver: str) -> tuple[list[Need], list[Problem]]:
    problems: list[Problem] = []
    found: list[Need] = [
        Need("", "namespaces", frozenset({"get", "list", "watch", "create", "patch", "delete"}),
             "ensure-namespace (server-side apply), wait-namespace-gone, delete-namespace"),
        Need("", "pods", frozenset({"get", "list"}), "wait-ready reads pod status; exec picks a Ready pod"),
        Need("", "pods/exec", frozenset({"create", "get"}),
             "WP-CLI and the Medusa admin user over exec (WebSocket: create from Kubernetes 1.30, get before)"),
        Need("", "pods/log", frozenset({"get"}), "logs of store pods for diagnosing failed rollouts"),
        Need("", "services/proxy", frozenset({"get", "create"}), "setup and verification through the service proxy (GET, POST)"),
        Need("", "secrets", frozenset({"get", "patch"}), "ensure-store-secret reads and completes store-secrets",
             frozenset({STORE_SECRET})),
        Need("", "secrets", frozenset({"create"}), "ensure-store-secret creates store-secrets (create cannot be limited by name)"),
    ]
    if helm_driver == "configmap":
        found.append(Need("", "configmaps", frozenset({"get", "list", "create", "update", "delete"}),
                          "helm release records (HELM_DRIVER=configmap)"))
    else:
        found.append(Need("", "secrets", frozenset({"get", "list", "create", "update", "delete"}),
                          "helm release records (HELM_DRIVER=secret)"))
    for (api_version, kind), value_sets in sorted(store.kinds.items()):
        mapped = resource_of(api_version, kind)
        if mapped is None:
            problems.append(Problem("rbac", f"{store.chart} renders {api_version} {kind} ({value_sets[0]}), a kind "
                                            "the lint cannot map to a resource: add it to fakekube.RESOURCES"))
            continue
        found.append(Need(mapped[0], mapped[1], HELM_VERBS,
                          f"helm manages {kind} of {store.chart} ({', '.join(value_sets[:2])}{'…' if len(value_sets) > 2 else ''})"))
    return found, problems


# ---------------------------------------------------------------------------------------------
# What the rendered chart grants
# ---------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Grant:
    group: str
    resource: str
    verb: str
    names: frozenset[str]  # empty: every object
    role: str


def _service_accounts(r: Rendered) -> tuple[set[str], set[str]]:
    """Service accounts of the API (`storeflow serve`) and worker (`storeflow worker`) pods."""
    api, worker = set(), set()
    for obj in r.of_kind("Deployment"):
        tpl = pod_template(obj) or {}
        spec = tpl.get("spec") or {}
        for c in spec.get("containers") or []:
            args = [str(a) for a in (c.get("command") or []) + (c.get("args") or [])]
            sa = spec.get("serviceAccountName") or "default"
            if "serve" in args[:2]:
                api.add(sa)
            if "worker" in args[:2]:
                worker.add(sa)
    return api, worker


def _bound_roles(r: Rendered, sa: str) -> tuple[list[dict], list[dict]]:
    """(ClusterRoleBindings, RoleBindings) whose subjects include the service account."""
    def binds(b: dict) -> bool:
        return any(s.get("kind") == "ServiceAccount" and s.get("name") == sa
                   and s.get("namespace", (b.get("metadata") or {}).get("namespace") or r.namespace) == r.namespace
                   for s in b.get("subjects") or [])
    return ([b for b in r.of_kind("ClusterRoleBinding") if binds(b)],
            [b for b in r.of_kind("RoleBinding") if binds(b)])


def grants(r: Rendered, sa: str) -> tuple[list[Grant], list[Problem]]:
    problems: list[Problem] = []
    out: list[Grant] = []
    cluster_bindings, role_bindings = _bound_roles(r, sa)
    for b in role_bindings:
        problems.append(Problem("rbac", f"{ref(b)} grants {sa} rights in its own namespace {r.namespace}, which no step needs"))
    for b in cluster_bindings:
        role_ref = b.get("roleRef") or {}
        if role_ref.get("kind") != "ClusterRole":
            problems.append(Problem("rbac", f"{ref(b)} refers to a {role_ref.get('kind')}, not a ClusterRole"))
            continue
        role = r.get("ClusterRole", role_ref.get("name"))
        if role is None:
            problems.append(Problem("rbac", f"{ref(b)} binds ClusterRole {role_ref.get('name')!r}, which the chart does not create"))
            continue
        if role.get("aggregationRule"):
            problems.append(Problem("rbac", f"{ref(role)} aggregates other roles; its rights cannot be checked"))
        for rule in role.get("rules") or []:
            if rule.get("nonResourceURLs"):
                problems.append(Problem("rbac", f"{ref(role)} grants nonResourceURLs {rule['nonResourceURLs']}, which no step needs"))
            groups, resources, verbs = rule.get("apiGroups") or [], rule.get("resources") or [], rule.get("verbs") or []
            for what, items in (("apiGroups", groups), ("resources", resources), ("verbs", verbs)):
                if "*" in items:
                    problems.append(Problem("rbac", f"{ref(role)} grants a wildcard in {what}: {items}"))
            names = frozenset(rule.get("resourceNames") or [])
            for g in groups:
                for res in resources:
                    for v in verbs:
                        out.append(Grant(g, res, v, names, name_of_role(role)))
    return out, problems


def name_of_role(role: dict) -> str:
    return (role.get("metadata") or {}).get("name") or "?"


def _covers(grant: Grant, need: Need, verb: str) -> bool:
    if grant.group not in (need.group, "*") or grant.resource not in (need.resource, "*") or grant.verb not in (verb, "*"):
        return False
    if not grant.names:
        return True
    return need.names is not None and need.names <= grant.names


def _justified(grant: Grant, all_needs: list[Need]) -> bool:
    for need in all_needs:
        if (grant.group, grant.resource) != (need.group, need.resource) or grant.verb not in need.verbs:
            continue
        if need.names is None or (grant.names and grant.names <= need.names):
            return True
    return False


def check_rbac(r: Rendered, store: StoreRenders) -> list[Problem]:
    problems: list[Problem] = []
    for err in store.errors:
        problems.append(Problem("rbac", f"{store.chart} value set does not render, so its kinds are unknown: {err}"))
    if not store.value_sets:
        problems.append(Problem("rbac", f"no value set of {store.chart} rendered: nothing to check the RBAC against"))
        return problems
    api_sas, worker_sas = _service_accounts(r)
    if len(worker_sas) != 1:
        return problems + [Problem("rbac", f"expected one service account for the `storeflow worker` pods, found {sorted(worker_sas) or 'none'}")]
    worker_sa = next(iter(worker_sas))
    for sa in api_sas:
        if sa == worker_sa:
            problems.append(Problem("rbac", f"the API pods run as the workers' service account {sa}: the API needs no Kubernetes rights"))
            continue
        cluster_bindings, role_bindings = _bound_roles(r, sa)
        for b in cluster_bindings + role_bindings:
            problems.append(Problem("rbac", f"{ref(b)} grants the API's service account {sa} rights; the API never calls Kubernetes to do work"))
    helm_driver = str(value_at(r.values, "stores.helmDriver", "secret"))
    all_needs, mapping_problems = needs(store, helm_driver)
    problems.extend(mapping_problems)
    granted, grant_problems = grants(r, worker_sa)
    problems.extend(grant_problems)
    for need in all_needs:
        missing = sorted(v for v in need.verbs if not any(_covers(g, need, v) for g in granted))
        if missing:
            scope = f" on {sorted(need.names)}" if need.names else ""
            what = f"{need.group + '/' if need.group else ''}{need.resource}"
            problems.append(Problem("rbac", f"{worker_sa} lacks {', '.join(missing)} on {what}{scope} cluster-wide: {need.why}"))
    for g in sorted(set(granted), key=lambda g: (g.group, g.resource, g.verb, sorted(g.names))):
        if "*" in (g.group, g.resource, g.verb):
            continue  # reported as a wildcard
        if not _justified(g, all_needs):
            scope = f" (resourceNames {sorted(g.names)})" if g.names else ""
            what = f"{g.group + '/' if g.group else ''}{g.resource}"
            problems.append(Problem("rbac", f"ClusterRole/{g.role} grants {g.verb} on {what}{scope}, which neither "
                                            f"{store.chart} nor a step needs (least privilege)"))
    return problems


# ---------------------------------------------------------------------------------------------
# The namespace fence (ValidatingAdmissionPolicies)
# ---------------------------------------------------------------------------------------------
def _bound_policies(r: Rendered) -> list[dict]:
    bound = set()
    for b in r.of_kind("ValidatingAdmissionPolicyBinding"):
        spec = b.get("spec") or {}
        if "Deny" in (spec.get("validationActions") or []) and not spec.get("paramRef"):
            bound.add(spec.get("policyName"))
    return [p for p in r.of_kind("ValidatingAdmissionPolicy") if name_of_role(p) in bound]


def _policy_matches(policy: dict, group: str, resource: str, operation: str) -> bool:
    constraints = (policy.get("spec") or {}).get("matchConstraints") or {}
    for rule in constraints.get("resourceRules") or []:
        if group not in (rule.get("apiGroups") or []) and "*" not in (rule.get("apiGroups") or []):
            continue
        if resource not in (rule.get("resources") or []) and "*" not in (rule.get("resources") or []):
            continue
        if operation in (rule.get("operations") or []) or "*" in (rule.get("operations") or []):
            return True
    return False


class _Cel:
    """cel-python, compiled once per expression."""

    def __init__(self):
        import celpy  # cel-python (requirements.txt)

        self.celpy = celpy
        self.env = celpy.Environment()
        self.programs: dict[str, object] = {}

    def evaluate(self, expression: str, activation: dict):
        """Evaluates; a compile error raises SyntaxError (a defect of the chart), an evaluation
        error ValueError (the API server would apply failurePolicy)."""
        if expression not in self.programs:
            try:
                self.programs[expression] = self.env.program(self.env.compile(expression))
            except Exception as err:
                raise SyntaxError(f"{expression!r} does not compile: {' '.join(str(err).split())}") from err
        cel_activation = {k: self.celpy.json_to_cel(v) for k, v in activation.items()}
        try:
            value = self.programs[expression].evaluate(cel_activation)
        except Exception as err:
            raise ValueError(f"{expression!r}: {err}") from err
        if isinstance(value, self.celpy.CELEvalError):
            raise ValueError(f"{expression!r}: {value}")
        return value

    def truth(self, expression: str, activation: dict) -> bool:
        """A condition's value; anything but a CEL bool is an error, as in the API server."""
        value = self.evaluate(expression, activation)
        if type(value).__name__ != "BoolType" and not isinstance(value, bool):
            raise TypeError(f"{expression!r} evaluates to {type(value).__name__}, not a bool")
        return bool(value)


def _decide(cel: _Cel, policy: dict, request: dict, obj, old, namespace_object) -> tuple[bool, bool]:
    """(applies, allowed) for one request, as the API server would decide it; an evaluation
    error counts as a refusal (failurePolicy Fail)."""
    spec = policy.get("spec") or {}
    activation = {"request": request, "object": obj, "oldObject": old, "namespaceObject": namespace_object,
                  "params": None}
    try:
        for condition in spec.get("matchConditions") or []:
            if not cel.truth(condition["expression"], activation):
                return False, True
    except (ValueError, TypeError):  # an error in a match condition: failurePolicy Fail
        return True, False
    variables: dict = {}
    try:
        for variable in spec.get("variables") or []:
            variables[variable["name"]] = _plain(cel.evaluate(variable["expression"], {**activation, "variables": variables}))
    except ValueError:  # a variable that cannot be evaluated fails every validation using it
        return True, False
    activation["variables"] = variables
    for validation in spec.get("validations") or []:
        try:
            if not cel.truth(validation["expression"], activation):
                return True, False
        except (ValueError, TypeError):  # an error in CEL refuses the request (failurePolicy: Fail)
            return True, False
    return True, True


def _plain(value):
    """A CEL value back to JSON-like Python (for variables used by later expressions)."""
    if isinstance(value, dict) or hasattr(value, "items"):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if value is None or isinstance(value, bool):
        return value
    if type(value).__name__ == "BoolType":  # cel-python's bool is an int subclass
        return bool(value)
    if isinstance(value, (int, float)):
        return value
    return str(value)


def _namespace(name: str, managed: bool) -> dict:
    labels = {"kubernetes.io/metadata.name": name}
    if managed:
        labels[MANAGED_BY[0]] = MANAGED_BY[1]
    return {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name, "labels": labels}}


STORE_NS = "store-0a1b2c3d"
# (description, operation, object, oldObject, must be allowed)
NAMESPACE_CASES = [
    ("create a store namespace", "CREATE", _namespace(STORE_NS, True), None, True),
    ("re-apply a store namespace", "UPDATE", _namespace(STORE_NS, True), _namespace(STORE_NS, True), True),
    ("delete a store namespace", "DELETE", None, _namespace(STORE_NS, True), True),
    ("create a namespace that is not a store's", "CREATE", _namespace("payments", True), None, False),
    ("create a store namespace without storeflow's label", "CREATE", _namespace(STORE_NS, False), None, False),
    ("label kube-system as storeflow's", "UPDATE", _namespace("kube-system", True), _namespace("kube-system", False), False),
    ("take over a store-like namespace storeflow did not create", "UPDATE", _namespace(STORE_NS, True), _namespace(STORE_NS, False), False),
    ("drop storeflow's label from a store namespace", "UPDATE", _namespace(STORE_NS, False), _namespace(STORE_NS, True), False),
    ("delete kube-system", "DELETE", None, _namespace("kube-system", False), False),
    ("delete a store-like namespace storeflow did not create", "DELETE", None, _namespace(STORE_NS, False), False),
]
# (description, request namespace object, must be allowed)
OBJECT_CASES = [
    ("write in a store namespace", _namespace(STORE_NS, True), True),
    ("write in kube-system", _namespace("kube-system", False), False),
    ("write in the control plane's own namespace", _namespace("storeflow", False), False),
    ("write in a namespace another tool manages",
     {"apiVersion": "v1", "kind": "Namespace",
      "metadata": {"name": "payments", "labels": {MANAGED_BY[0]: "Helm"}}}, False),
    ("write a cluster-scoped object", None, False),
]


# The identifiers CEL reserves (cel-spec, "Syntax"): no variable may be named so.
CEL_RESERVED = frozenset({"as", "break", "const", "continue", "else", "false", "for", "function", "if", "import",
                          "in", "let", "loop", "package", "namespace", "null", "return", "true", "var", "void",
                          "while"})


def check_fence(r: Rendered, granted: list[Grant], worker_user: str) -> list[Problem]:
    problems: list[Problem] = []
    policies = _bound_policies(r)
    if not policies:
        return [Problem("admission", "rbac.namespaceFence.enabled is true but no ValidatingAdmissionPolicy is bound with validationActions [Deny]")]
    for p in policies:
        spec = p.get("spec") or {}
        if spec.get("failurePolicy", "Fail") != "Fail":
            problems.append(Problem("admission", f"{ref(p)} has failurePolicy {spec.get('failurePolicy')}: an error would let the write through"))
        # cel-python accepts them; the API server refuses the whole policy (found on a real one).
        for variable in spec.get("variables") or []:
            if variable.get("name") in CEL_RESERVED:
                problems.append(Problem("admission", f"{ref(p)} names a variable {variable['name']!r}, a reserved word in CEL: "
                                                     "the API server refuses the policy"))
    # Every write the workers are granted must be fenced.
    for g in sorted({(g.group, g.resource, g.verb) for g in granted}):
        group, resource, verb = g
        if resource in CONNECT_SUBRESOURCES:
            operation = "CONNECT"
        elif verb in WRITE_VERBS:
            operation = WRITE_VERBS[verb]
        else:
            continue
        if not any(_policy_matches(p, group, resource, operation) for p in policies):
            what = f"{group + '/' if group else ''}{resource}"
            problems.append(Problem("admission", f"the workers may {verb} {what} ({operation}) but no bound fence policy matches it"))
    try:
        cel = _Cel()
    except ImportError:
        return problems + [Problem("admission", "cel-python is not installed, so the fence's expressions cannot be "
                                                "checked: pip install --ignore-requires-python -r charts/lint/requirements.txt")]
    other_user = "system:serviceaccount:kube-system:replicaset-controller"
    try:
        ns_policies = [p for p in policies if _policy_matches(p, "", "namespaces", "CREATE")]
        if not ns_policies:
            problems.append(Problem("admission", "no bound fence policy matches namespace writes"))
        for description, operation, obj, old, allowed in NAMESPACE_CASES:
            target = obj or old
            request = {"operation": operation, "userInfo": {"username": worker_user},
                       "name": target["metadata"]["name"], "namespace": "",
                       "resource": {"group": "", "version": "v1", "resource": "namespaces"}}
            verdicts = [_decide(cel, p, request, obj, old, None) for p in ns_policies]
            if not any(applies for applies, _ in verdicts) and ns_policies:
                problems.append(Problem("admission", f"the namespace fence does not apply to the workers ({worker_user}): {description}"))
                continue
            ok = all(a for _, a in verdicts)
            if ok != allowed:
                problems.append(Problem("admission", f"namespace fence: {description} must be {'allowed' if allowed else 'refused'}, is {'allowed' if ok else 'refused'}"))
            others = [_decide(cel, p, {**request, "userInfo": {"username": other_user}}, obj, old, None) for p in ns_policies]
            if any(applies for applies, _ in others):
                problems.append(Problem("admission", f"the namespace fence also applies to {other_user}: it must match the workers only"))
        obj_policies = [p for p in policies if _policy_matches(p, "apps", "deployments", "CREATE")]
        if not obj_policies:
            problems.append(Problem("admission", "no bound fence policy matches writes of store objects"))
        for description, namespace_object, allowed in OBJECT_CASES:
            ns_name = (namespace_object or {}).get("metadata", {}).get("name", "")
            request = {"operation": "CREATE", "userInfo": {"username": worker_user}, "name": "wordpress",
                       "namespace": ns_name, "resource": {"group": "apps", "version": "v1", "resource": "deployments"}}
            deployment = {"apiVersion": "apps/v1", "kind": "Deployment",
                          "metadata": {"name": "wordpress", "namespace": ns_name}}
            verdicts = [_decide(cel, p, request, deployment, None, namespace_object) for p in obj_policies]
            if not any(applies for applies, _ in verdicts) and obj_policies:
                problems.append(Problem("admission", f"the store-object fence does not apply to the workers: {description}"))
                continue
            ok = all(a for _, a in verdicts)
            if ok != allowed:
                problems.append(Problem("admission", f"store-object fence: {description} must be {'allowed' if allowed else 'refused'}, is {'allowed' if ok else 'refused'}"))
    except SyntaxError as err:
        problems.append(Problem("admission", f"a fence expression {err}"))
    return problems


def check(r: Rendered, store: StoreRenders) -> list[Problem]:
    problems = check_rbac(r, store)
    if value_at(r.values, "rbac.namespaceFence.enabled") is True:
        _, worker_sas = _service_accounts(r)
        if len(worker_sas) == 1:
            worker_sa = next(iter(worker_sas))
            granted, _ = grants(r, worker_sa)
            problems.extend(check_fence(r, granted, f"system:serviceaccount:{r.namespace}:{worker_sa}"))
    elif r.of_kind("ValidatingAdmissionPolicy"):
        problems.append(Problem("admission", "rbac.namespaceFence.enabled is false but fence policies are rendered"))
    return problems
