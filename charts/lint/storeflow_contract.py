"""The contract between charts/storeflow and the `storeflow` binary (server/src/main.rs,
server/src/config.rs, executors/src/helm.rs), checked on every rendered value set.

The binary reads its settings from flags and environment variables and refuses to start
without the ones it needs; these checks fail the lint when a template change would hand it
something it does not understand, or take away what an upgrade relies on (migrations first,
workers draining within their grace period, secrets kept). They also check that the
NetworkPolicies admit what the values say and nothing more: TRUST_PROXY believes the right-most
X-Forwarded-For hop, so only the ingress controller may reach the API.
"""

from __future__ import annotations

import base64
import json
import re
from pathlib import Path

from checks import Problem, Rendered, all_containers, pod_template, policy_types, ref, selector_matches, value_at, workloads

# The store chart the workers install (charts/ecommerce-store), for the store values checks.
STORE_CHART_DIR = Path(__file__).resolve().parent.parent / "ecommerce-store"

API_LIVE = "/api/v1/health/live"
API_READY = "/api/v1/health/ready"

# TLS to the external database: the binary reads PGSSLMODE / PGSSLROOTCERT like libpq.
SSL_MODES = ("disable", "allow", "prefer", "require", "verify-ca", "verify-full")
DATABASE_CA_DIR = "/etc/storeflow/database-ca"
DATABASE_CA_FILE = f"{DATABASE_CA_DIR}/ca.crt"


def _storeflow_deployments(r: Rendered) -> dict[str, tuple[dict, dict]]:
    """command (serve / worker) -> (Deployment, its storeflow container)."""
    found = {}
    for obj in r.of_kind("Deployment"):
        tpl = pod_template(obj) or {}
        for c in (tpl.get("spec") or {}).get("containers") or []:
            args = [str(a) for a in c.get("args") or []]
            if args and args[0] in ("serve", "worker"):
                found[args[0]] = (obj, c)
    return found


def _env(container: dict) -> list[dict]:
    return container.get("env") or []


def _env_map(container: dict) -> dict[str, dict]:
    return {e.get("name"): e for e in _env(container)}


def _flag(container: dict, name: str) -> str | None:
    for arg in container.get("args") or []:
        if str(arg).startswith(f"--{name}="):
            return str(arg).split("=", 1)[1]
    return None


def _config_data(r: Rendered, container: dict) -> dict[str, str]:
    data: dict[str, str] = {}
    for source in container.get("envFrom") or []:
        name = (source.get("configMapRef") or {}).get("name")
        cm = r.get("ConfigMap", name) if name else None
        if cm is not None:
            data.update({k: str(v) for k, v in (cm.get("data") or {}).items()})
    return data


def _database_url(r: Rendered, where: str, container: dict) -> list[Problem]:
    v = r.values
    env = _env(container)
    names = [e.get("name") for e in env]
    by_name = _env_map(container)
    url = by_name.get("DATABASE_URL")
    if url is None:
        return [Problem("contract", f"{where} has no DATABASE_URL")]
    if v["database"]["mode"] == "external":
        key_ref = ((url.get("valueFrom") or {}).get("secretKeyRef")) or {}
        want = (v["database"]["external"]["existingSecret"], v["database"]["external"]["key"])
        if (key_ref.get("name"), key_ref.get("key")) != want:
            return [Problem("contract", f"{where} DATABASE_URL must come from key {want[1]} of Secret {want[0]}")]
        return []
    service = f"{_fullname_of(r)}-postgresql"
    expected = f"postgres://storeflow:$(STOREFLOW_DB_PASSWORD)@{service}:5432/storeflow"
    problems = []
    if url.get("value") != expected:
        problems.append(Problem("contract", f"{where} DATABASE_URL is {url.get('value')!r}, expected {expected!r}"))
    if "STOREFLOW_DB_PASSWORD" not in names or names.index("STOREFLOW_DB_PASSWORD") > names.index("DATABASE_URL"):
        problems.append(Problem("contract", f"{where} must define STOREFLOW_DB_PASSWORD before DATABASE_URL (Kubernetes interpolates only earlier variables)"))
    svc = r.get("Service", service)
    if svc is None or not any(p.get("port") == 5432 for p in (svc.get("spec") or {}).get("ports") or []):
        problems.append(Problem("contract", f"Service {service} with port 5432 (the bundled PostgreSQL) is missing"))
    return problems


def _database_tls_wanted(v: dict) -> tuple[str | None, str | None, str | None]:
    """(PGSSLMODE, CA Secret, its key) the values ask for; all None for the bundled database.
    A CA Secret without a mode means verify-full."""
    if v["database"]["mode"] != "external":
        return None, None, None
    tls = v["database"]["external"].get("tls") or {}
    ca_secret = tls.get("caSecret") or None
    mode = tls.get("mode") or ("verify-full" if ca_secret else None)
    return mode, ca_secret, (tls.get("caKey") if ca_secret else None)


def _database_tls(r: Rendered) -> list[Problem]:
    """Every container that gets DATABASE_URL (API, worker, their migrate init containers) gets
    PGSSLMODE and PGSSLROOTCERT exactly when configured, and the CA bundle mounted read-only
    from the configured Secret and key where PGSSLROOTCERT points."""
    problems: list[Problem] = []
    mode, ca_secret, ca_key = _database_tls_wanted(r.values)
    for obj, tpl in workloads(r):
        spec = tpl.get("spec") or {}
        volumes = {vol.get("name"): vol for vol in spec.get("volumes") or []}
        for role, c in all_containers(spec):
            env = _env_map(c)
            if "DATABASE_URL" not in env:
                continue
            where = f"{ref(obj)} {role} {c.get('name')}"
            got_mode = (env.get("PGSSLMODE") or {}).get("value")
            if mode is None and "PGSSLMODE" in env:
                problems.append(Problem("contract", f"{where} sets PGSSLMODE={got_mode!r} although database.external.tls asks for no sslmode"))
            elif mode is not None and got_mode != mode:
                problems.append(Problem("contract", f"{where} PGSSLMODE must be {mode!r} (database.external.tls), got {got_mode!r}"))
            if got_mode is not None and got_mode not in SSL_MODES:
                problems.append(Problem("contract", f"{where} PGSSLMODE {got_mode!r} is not one of {', '.join(SSL_MODES)} (storeflow refuses it)"))
            got_root = (env.get("PGSSLROOTCERT") or {}).get("value")
            mounts = [m for m in c.get("volumeMounts") or [] if (m.get("mountPath") or "").rstrip("/") == DATABASE_CA_DIR]
            if ca_secret is None:
                if "PGSSLROOTCERT" in env:
                    problems.append(Problem("contract", f"{where} sets PGSSLROOTCERT={got_root!r} although database.external.tls.caSecret is not set"))
                if mounts:
                    problems.append(Problem("contract", f"{where} mounts {DATABASE_CA_DIR} although database.external.tls.caSecret is not set"))
                continue
            if got_root != DATABASE_CA_FILE:
                problems.append(Problem("contract", f"{where} PGSSLROOTCERT must be {DATABASE_CA_FILE} (the mounted CA bundle), got {got_root!r}"))
            if len(mounts) != 1:
                problems.append(Problem("contract", f"{where} must mount the database CA bundle (Secret {ca_secret}) at {DATABASE_CA_DIR}"))
                continue
            mount = mounts[0]
            if mount.get("readOnly") is not True or mount.get("subPath"):
                problems.append(Problem("contract", f"{where} must mount {DATABASE_CA_DIR} read-only and whole (no subPath)"))
            secret = (volumes.get(mount.get("name")) or {}).get("secret") or {}
            items = [(i.get("key"), i.get("path")) for i in secret.get("items") or []]
            if secret.get("secretName") != ca_secret or items != [(ca_key, "ca.crt")]:
                problems.append(Problem("contract", f"{where} {DATABASE_CA_DIR} must be key {ca_key} of Secret {ca_secret} as ca.crt "
                                                    f"(database.external.tls), got volume {mount.get('name')!r}: "
                                                    f"Secret {secret.get('secretName')!r} items {items}"))
    return problems


def _fullname_of(r: Rendered) -> str:
    for obj in r.of_kind("Deployment"):
        name = (obj.get("metadata") or {}).get("name") or ""
        if name.endswith("-api"):
            return name[: -len("-api")]
    return r.release


def _secret_ref(r: Rendered, where: str, container: dict, var: str, key_value: str) -> list[Problem]:
    entry = _env_map(container).get(var)
    key_ref = (((entry or {}).get("valueFrom") or {}).get("secretKeyRef")) or {}
    want_name = r.values["secrets"]["existingSecret"] or f"{_fullname_of(r)}-secrets"
    want_key = r.values["secrets"][key_value]
    if (key_ref.get("name"), key_ref.get("key")) != (want_name, want_key):
        return [Problem("contract", f"{where} {var} must come from key {want_key} of Secret {want_name}")]
    return []


def _migrations_first(where: str, obj: dict) -> list[Problem]:
    spec = (pod_template(obj) or {}).get("spec") or {}
    inits = spec.get("initContainers") or []
    migrate = [c for c in inits if [str(a) for a in c.get("args") or []] == ["migrate"]]
    if not migrate:
        return [Problem("contract", f"{where} does not run `storeflow migrate` as an init container (migrations must run before the binary starts)")]
    main_image = ((spec.get("containers") or [{}])[0]).get("image")
    if migrate[0].get("image") != main_image:
        return [Problem("contract", f"{where} migrates with image {migrate[0].get('image')!r}, not the binary it starts ({main_image!r})")]
    return []


def check_contract(r: Rendered) -> list[Problem]:
    p: list[Problem] = []
    v = r.values
    found = _storeflow_deployments(r)
    for command in ("serve", "worker"):
        if command not in found:
            p.append(Problem("contract", f"no Deployment runs `storeflow {command}`"))
    if p:
        return p
    api, api_c = found["serve"]
    worker, worker_c = found["worker"]

    # Replicas, migrations, database, secrets.
    for obj, key in ((api, "api.replicas"), (worker, "worker.replicas")):
        if (obj.get("spec") or {}).get("replicas") != value_at(v, key):
            p.append(Problem("contract", f"{ref(obj)} replicas must follow {key}"))
    for obj, c in ((api, api_c), (worker, worker_c)):
        p.extend(_migrations_first(ref(obj), obj))
        p.extend(_database_url(r, f"{ref(obj)} container {c.get('name')}", c))
        p.extend(_secret_ref(r, f"{ref(obj)}", c, "STOREFLOW_ENCRYPTION_KEY", "encryptionKeyKey"))
        for init in ((pod_template(obj) or {}).get("spec") or {}).get("initContainers") or []:
            p.extend(_database_url(r, f"{ref(obj)} init container {init.get('name')}", init))
    p.extend(_secret_ref(r, ref(api), api_c, "JWT_SECRET", "jwtSecretKey"))
    p.extend(_database_tls(r))
    if not v["secrets"]["existingSecret"]:
        secret = r.get("Secret", f"{_fullname_of(r)}-secrets")
        if secret is None:
            p.append(Problem("contract", "the generated Secret with the JWT secret and the encryption key is missing"))
        else:
            data = {k: base64.b64decode(str(x)).decode("utf-8", "replace") for k, x in (secret.get("data") or {}).items()}
            if len(data.get(v["secrets"]["jwtSecretKey"], "")) < 32:
                p.append(Problem("contract", "the generated JWT secret is shorter than 32 characters (storeflow refuses it)"))
            if not re.fullmatch(r"[0-9a-f]{64}", data.get(v["secrets"]["encryptionKeyKey"], "")):
                p.append(Problem("contract", "the generated encryption key is not 64 hex digits (storeflow refuses it)"))
            if ((secret.get("metadata") or {}).get("annotations") or {}).get("helm.sh/resource-policy") != "keep":
                p.append(Problem("contract", f"{ref(secret)} must carry helm.sh/resource-policy: keep (an uninstall would destroy the encryption key)"))

    # The API: port, probes, settings.
    port = value_at(v, "api.port")
    if _flag(api_c, "port") != str(port) or not any(x.get("containerPort") == port and x.get("name") == "http" for x in api_c.get("ports") or []):
        p.append(Problem("contract", f"{ref(api)} must serve --port={port} as container port http"))
    for probe, path in (("startupProbe", API_LIVE), ("livenessProbe", API_LIVE), ("readinessProbe", API_READY)):
        got = ((api_c.get(probe) or {}).get("httpGet") or {}).get("path")
        if got != path:
            p.append(Problem("contract", f"{ref(api)} {probe} must GET {path}, not {got!r}"))
    api_config = _config_data(r, api_c)
    for var, key in (("STORE_DOMAIN_SUFFIX", "stores.domainSuffix"), ("STORE_INGRESS_CONTROLLER", "stores.ingressController")):
        if api_config.get(var) != str(value_at(v, key)):
            p.append(Problem("contract", f"{ref(api)} {var} must be {key} ({value_at(v, key)!r}), got {api_config.get(var)!r}"))
    # Who becomes an operator: the binary reads "true"/"false"; anything else stops it.
    first_admin = "true" if value_at(v, "api.firstUserIsAdmin") else "false"
    if api_config.get("FIRST_USER_IS_ADMIN") != first_admin:
        p.append(Problem("contract", f"{ref(api)} FIRST_USER_IS_ADMIN must be {first_admin!r} (api.firstUserIsAdmin), "
                                     f"got {api_config.get('FIRST_USER_IS_ADMIN')!r}: otherwise whoever registers first owns the deployment"))
    tls = value_at(v, "stores.tlsSecret") or None
    if api_config.get("STORE_TLS_SECRET") != tls:
        p.append(Problem("contract", f"{ref(api)} STORE_TLS_SECRET must be stores.tlsSecret ({tls!r}), got {api_config.get('STORE_TLS_SECRET')!r}"))

    # The worker: helm settings match the RBAC's assumptions; draining fits the grace period.
    worker_config = _config_data(r, worker_c)
    driver = value_at(v, "stores.helmDriver")
    if worker_config.get("HELM_DRIVER") != driver:
        p.append(Problem("contract", f"{ref(worker)} HELM_DRIVER must be stores.helmDriver ({driver!r}): the RBAC is granted for it"))
    values_file = worker_config.get("HELM_VALUES_FILE")
    mounts = [m.get("mountPath") for m in worker_c.get("volumeMounts") or []]
    if value_at(v, "stores.chartValues") and not (values_file and any(values_file.startswith(f"{m}/") for m in mounts)):
        p.append(Problem("contract", f"{ref(worker)} HELM_VALUES_FILE {values_file!r} is not inside a mounted volume"))
    grace = _flag(worker_c, "shutdown-grace")
    pod_grace = ((pod_template(worker) or {}).get("spec") or {}).get("terminationGracePeriodSeconds")
    m = re.fullmatch(r"(\d+)s", grace or "")
    if not m or not isinstance(pod_grace, int) or pod_grace <= int(m.group(1)):
        p.append(Problem("contract", f"{ref(worker)} terminationGracePeriodSeconds ({pod_grace}) must exceed --shutdown-grace ({grace}): "
                                     "the kubelet would kill workers before they release their leases"))
    # Metrics: API and worker pods serve them on a port of their own, reachable by Prometheus
    # through a Service; every ServiceMonitor scrapes such a Service.
    metric_services: list[dict] = []
    for obj, c in ((api, api_c), (worker, worker_c)):
        if not value_at(v, "metrics.enabled"):
            if _flag(c, "metrics-listen"):
                p.append(Problem("contract", f"{ref(obj)} serves metrics although metrics.enabled is false"))
            continue
        listen = _flag(c, "metrics-listen") or ""
        mport = value_at(v, "metrics.port")
        if listen != f"0.0.0.0:{mport}":
            p.append(Problem("contract", f"{ref(obj)} must pass --metrics-listen=0.0.0.0:{mport} (a loopback address is unreachable for Prometheus)"))
        annotations = ((pod_template(obj) or {}).get("metadata") or {}).get("annotations") or {}
        if value_at(v, "metrics.podAnnotations") and annotations.get("prometheus.io/port") != str(mport):
            p.append(Problem("contract", f"{ref(obj)} prometheus.io/port must be {mport}"))
        labels = ((pod_template(obj) or {}).get("metadata") or {}).get("labels") or {}
        services = [s for s in r.of_kind("Service")
                    if selector_matches((s.get("spec") or {}).get("selector") or {"-": "-"}, labels)
                    and any(port_.get("name") == "metrics" for port_ in (s.get("spec") or {}).get("ports") or [])]
        if not services:
            p.append(Problem("contract", f"no Service selects the metrics port of {ref(obj)}'s pods"))
        metric_services += services
    for sm in r.of_kind("ServiceMonitor"):
        spec = sm.get("spec") or {}
        selected = [s for s in metric_services
                    if selector_matches((spec.get("selector") or {}).get("matchLabels") or {"-": "-"},
                                        (s.get("metadata") or {}).get("labels") or {})]
        if not selected:
            p.append(Problem("contract", f"{ref(sm)} selects no metrics Service"))
        for endpoint in spec.get("endpoints") or []:
            if not any(endpoint.get("port") == port_.get("name") for s in selected for port_ in (s.get("spec") or {}).get("ports") or []):
                p.append(Problem("contract", f"{ref(sm)} endpoint port {endpoint.get('port')!r} is not a port of the metrics Service"))

    p.extend(_store_values(v))
    p.extend(_network_policies(r, api, worker))

    # Disruption budgets select exactly their pods.
    for pdb in r.of_kind("PodDisruptionBudget"):
        selector = (((pdb.get("spec") or {}).get("selector") or {}).get("matchLabels")) or {}
        matched = [o for o in (api, worker) if selector and selector_matches(selector, ((pod_template(o) or {}).get("metadata") or {}).get("labels") or {})]
        if len(matched) != 1:
            p.append(Problem("contract", f"{ref(pdb)} must select the pods of exactly one of the API and the workers"))
    return p


def _store_values(v: dict) -> list[Problem]:
    """stores.chartValuesFile names a file of the store chart (in the image it is the same
    directory); stores.chartValues passes the store chart's schema, which refuses unknown keys:
    a typo here would make every install-chart step fail."""
    if not (STORE_CHART_DIR / "Chart.yaml").is_file():
        return []
    p: list[Problem] = []
    name = value_at(v, "stores.chartValuesFile")
    if name and not (STORE_CHART_DIR / name).is_file():
        p.append(Problem("contract", f"stores.chartValuesFile {name!r} is not a file of {STORE_CHART_DIR.name}"))
    values = value_at(v, "stores.chartValues")
    schema_file = STORE_CHART_DIR / "values.schema.json"
    if values and schema_file.is_file():
        import jsonschema

        validator = jsonschema.Draft7Validator(json.loads(schema_file.read_text()))
        for err in validator.iter_errors(values):
            if err.validator == "required":  # storeflow adds storeId, engine, … per store
                continue
            where = "/".join(str(x) for x in err.absolute_path) or "(top)"
            p.append(Problem("contract", f"stores.chartValues at {where}: {err.message[:200]} ({STORE_CHART_DIR.name}'s schema)"))
    return p


def _label_selector_matches(selector: dict | None, labels: dict) -> bool:
    """Kubernetes LabelSelector semantics (matchLabels and matchExpressions); {} selects all."""
    selector = selector or {}
    if not selector_matches(selector.get("matchLabels") or {}, labels):
        return False
    for expr in selector.get("matchExpressions") or []:
        key, op, values = expr.get("key"), expr.get("operator"), expr.get("values") or []
        if (op == "In" and labels.get(key) not in values) or (op == "NotIn" and key in labels and labels[key] in values) \
                or (op == "Exists" and key not in labels) or (op == "DoesNotExist" and key in labels):
            return False
    return True


def _canonical(peer: dict) -> str:
    return json.dumps(peer, sort_keys=True)


def controller_peer(v: dict) -> dict:
    """The ingress controller's pods as the API's NetworkPolicy must admit them: the selectors of
    networkPolicy.ingressController, or where null the store chart's defaults for
    stores.ingressController (ingress-nginx pods in ingress-nginx, traefik pods in kube-system)."""
    traefik = value_at(v, "stores.ingressController") == "traefik"
    configured = value_at(v, "networkPolicy.ingressController") or {}
    namespaces = configured.get("namespaceSelector")
    if not isinstance(namespaces, dict):
        namespaces = {"matchLabels": {"kubernetes.io/metadata.name": "kube-system" if traefik else "ingress-nginx"}}
    pods = configured.get("podSelector")
    if not isinstance(pods, dict):
        pods = {"matchLabels": {"app.kubernetes.io/name": "traefik" if traefik else "ingress-nginx"}}
    return {"namespaceSelector": namespaces, "podSelector": pods}


def _admitting(r: Rendered, labels: dict) -> tuple[list[dict], list[dict]]:
    """The policies that select pods with these labels, and the ingress rules they admit with."""
    selecting = [pol for pol in r.of_kind("NetworkPolicy")
                 if _label_selector_matches((pol.get("spec") or {}).get("podSelector"), labels)]
    rules = [rule for pol in selecting if "Ingress" in policy_types(pol)
             for rule in (pol.get("spec") or {}).get("ingress") or []]
    return selecting, rules


def _only_port(rule: dict, port: int, names: tuple[str, ...]) -> bool:
    ports = rule.get("ports") or []
    return bool(ports) and all((x.get("protocol") or "TCP") == "TCP" and x.get("endPort") is None
                               and (x.get("port") == port or x.get("port") in names) for x in ports)


def _peer_problems(what: str, rules: list[dict], port: int, names: tuple[str, ...], want: list[dict], why: str) -> list[Problem]:
    """The rules admit exactly the peers `want`, on `port` only."""
    p: list[Problem] = []
    got: set[str] = set()
    for rule in rules:
        if not _only_port(rule, port, names):
            p.append(Problem("contract", f"{what}: an ingress rule opens ports {rule.get('ports') or 'all'}, not only TCP {port}"))
        peers = rule.get("from") or []
        if not peers:
            p.append(Problem("contract", f"{what}: an ingress rule admits every source ({why})"))
        got |= {_canonical(peer) for peer in peers}
    wanted = {_canonical(peer) for peer in want}
    for extra in sorted(got - wanted):
        p.append(Problem("contract", f"{what} admit {extra}, which the values do not ask for ({why})"))
    for missing in sorted(wanted - got):
        p.append(Problem("contract", f"{what} do not admit {missing}, which the values ask for"))
    return p


def _peer_owner(peer: dict, owners: dict[str, dict]) -> str | None:
    """The workload (name -> Deployment) whose pods, and only whose pods, an in-namespace peer
    selects: its podSelector includes all of that Deployment's selector and matches its pods."""
    selector = peer.get("podSelector")
    if selector is None or "namespaceSelector" in peer or "ipBlock" in peer:
        return None
    for name, obj in owners.items():
        own = ((obj.get("spec") or {}).get("selector") or {}).get("matchLabels") or {}
        labels = ((pod_template(obj) or {}).get("metadata") or {}).get("labels") or {}
        if own and set(own.items()) <= set((selector.get("matchLabels") or {}).items()) \
                and _label_selector_matches(selector, labels):
            return name
    return None


def _network_policies(r: Rendered, api: dict, worker: dict) -> list[Problem]:
    """networkPolicy: the API pods admit only the ingress controller's pods (with the Ingress on;
    the release namespace's pods with it off) plus networkPolicy.extraApiIngress, on the API port
    -- otherwise any pod could hand the API a forged X-Forwarded-For, and with it the address that
    login rate limits and lockouts count by; their metrics port admits networkPolicy.metricsFrom
    as the workers' does. The workers admit only networkPolicy.metricsFrom on
    the metrics port, nothing without metrics. The bundled PostgreSQL admits only the API and
    worker pods, on 5432. No policy restricts the API's or the workers' egress. With
    networkPolicy.enabled false, no NetworkPolicy at all."""
    v = r.values
    policies = r.of_kind("NetworkPolicy")
    if not value_at(v, "networkPolicy.enabled"):
        return [Problem("contract", f"networkPolicy.enabled is false but {ref(pol)} is rendered") for pol in policies]
    p: list[Problem] = []
    api_labels = ((pod_template(api) or {}).get("metadata") or {}).get("labels") or {}
    worker_labels = ((pod_template(worker) or {}).get("metadata") or {}).get("labels") or {}

    # The API.
    selecting, rules = _admitting(r, api_labels)
    if not any("Ingress" in policy_types(pol) for pol in selecting):
        p.append(Problem("contract", f"no NetworkPolicy isolates the pods of {ref(api)} for ingress: any pod can reach them and forge X-Forwarded-For"))
    else:
        if value_at(v, "ingress.enabled"):
            want, why = [controller_peer(v)], "with the Ingress on only the controller may reach the API: TRUST_PROXY believes X-Forwarded-For"
        else:
            want, why = [{"podSelector": {}}], "with the Ingress off the API admits the release namespace"
        want += value_at(v, "networkPolicy.extraApiIngress") or []
        # Rules that open only the metrics port are judged as the workers' are.
        mport = value_at(v, "metrics.port")
        metrics_rules = [rule for rule in rules if _only_port(rule, mport, ("metrics",))]
        api_rules = [rule for rule in rules if rule not in metrics_rules]
        p.extend(_peer_problems(f"the pods of {ref(api)}", api_rules, value_at(v, "api.port"), ("http",), want, why))
        metrics_from = (value_at(v, "networkPolicy.metricsFrom") or []) if value_at(v, "metrics.enabled") else []
        p.extend(_peer_problems(f"the metrics port of {ref(api)}'s pods", metrics_rules, mport, ("metrics",), metrics_from,
                                "the metrics port admits networkPolicy.metricsFrom"))

    # The workers.
    selecting, rules = _admitting(r, worker_labels)
    if not any("Ingress" in policy_types(pol) for pol in selecting):
        p.append(Problem("contract", f"no NetworkPolicy isolates the pods of {ref(worker)} for ingress (they serve nothing but metrics)"))
    else:
        metrics_from = (value_at(v, "networkPolicy.metricsFrom") or []) if value_at(v, "metrics.enabled") else []
        why = "the workers serve only metrics, to networkPolicy.metricsFrom" if value_at(v, "metrics.enabled") else "metrics.enabled is false: the workers serve nothing"
        p.extend(_peer_problems(f"the pods of {ref(worker)}", rules, value_at(v, "metrics.port"), ("metrics",), metrics_from, why))

    for obj, selecting in ((api, _admitting(r, api_labels)[0]), (worker, _admitting(r, worker_labels)[0])):
        for pol in selecting:
            if "Egress" in policy_types(pol):
                p.append(Problem("contract", f"{ref(pol)} restricts the egress of {ref(obj)} (it reaches the database, the API server, helm's targets and the stores)"))

    # The bundled PostgreSQL.
    if value_at(v, "database.mode") == "bundled":
        postgres = r.get("StatefulSet", f"{_fullname_of(r)}-postgresql")
        labels = (((pod_template(postgres) or {}).get("metadata") or {}).get("labels") or {}) if postgres else {}
        selecting, rules = _admitting(r, labels)
        if not labels or not any("Ingress" in policy_types(pol) for pol in selecting):
            p.append(Problem("contract", "no NetworkPolicy isolates the bundled PostgreSQL for ingress: any pod can try its password"))
        else:
            owners = {"API": api, "worker": worker}
            admitted = set()
            for rule in rules:
                on_port = _only_port(rule, 5432, ("postgres",))
                if not on_port:
                    p.append(Problem("contract", f"the bundled PostgreSQL: an ingress rule opens ports {rule.get('ports') or 'all'}, not only TCP 5432"))
                peers = rule.get("from") or []
                if not peers:
                    p.append(Problem("contract", "the bundled PostgreSQL: an ingress rule admits every source (only the API and worker pods connect)"))
                for peer in peers:
                    owner = _peer_owner(peer, owners)
                    if owner is None:
                        p.append(Problem("contract", f"the bundled PostgreSQL admits {_canonical(peer)}, which is not limited to the API or worker pods"))
                    elif on_port:
                        admitted.add(owner)
            for name in owners:
                if name not in admitted:
                    p.append(Problem("contract", f"the bundled PostgreSQL has no peer for exactly the {name} pods on 5432 (their DATABASE_URL points there)"))
    return p


# Charts with a contract: chart name -> check.
CONTRACTS = {"storeflow": check_contract}
