"""The contract between charts/ecommerce-store and storeflow's executors, checked on every
rendered value set (see charts/ecommerce-store/README.md).

The executors find objects by fixed names, exec into fixed containers, read fixed secret keys
and rely on fixed labels; these checks fail the lint when a template change breaks any of it.
"""

from __future__ import annotations

from checks import Problem, Rendered, pod_template, ref, selector_matches, value_at

SECRET_KEYS = {
    "woocommerce": {"mariadb-root-password", "mariadb-password"},
    "medusa": {"postgres-password", "jwt-secret", "cookie-secret"},
}
DATABASE_URL = "postgres://medusa:$(POSTGRES_PASSWORD)@medusa-postgres:5432/medusa"
SELECTOR_KEYS = {"app.kubernetes.io/name", "app.kubernetes.io/instance", "app.kubernetes.io/component"}


def expected_objects(values: dict) -> set[tuple[str, str]]:
    engine = values.get("engine")
    objects: set[tuple[str, str]] = set()
    if value_at(values, "resourceQuota.enabled"):
        objects.add(("ResourceQuota", "store-quota"))
    if value_at(values, "limitRange.enabled"):
        objects.add(("LimitRange", "store-limits"))
    policies = value_at(values, "networkPolicy.enabled")
    if policies:
        objects |= {("NetworkPolicy", "default-deny"), ("NetworkPolicy", "allow-dns")}
    ingress = value_at(values, "ingress.enabled")
    if engine == "woocommerce":
        objects |= {("Deployment", "wordpress"), ("StatefulSet", "mariadb"), ("Service", "wordpress"),
                    ("Service", "mariadb"), ("PersistentVolumeClaim", "wordpress-data")}
        if policies:
            objects |= {("NetworkPolicy", "allow-wordpress"), ("NetworkPolicy", "allow-mariadb")}
        if ingress:
            objects.add(("Ingress", "wordpress"))
    if engine == "medusa":
        objects |= {("Deployment", "medusa"), ("StatefulSet", "medusa-postgres"), ("Service", "medusa"),
                    ("Service", "medusa-postgres")}
        if policies:
            objects |= {("NetworkPolicy", "allow-medusa"), ("NetworkPolicy", "allow-medusa-postgres")}
        if value_at(values, "medusa.storefront.enabled"):
            objects |= {("Deployment", "storefront"), ("Service", "storefront")}
            if policies:
                objects.add(("NetworkPolicy", "allow-storefront"))
        if ingress:
            objects.add(("Ingress", "medusa"))
            if value_at(values, "medusa.admin.enabled") is not False:
                objects.add(("Ingress", "medusa-admin-sign-in"))
    return objects


def _container(r: Rendered, kind: str, name: str, container: str) -> dict | None:
    obj = r.get(kind, name)
    tpl = pod_template(obj) if obj else None
    for c in ((tpl or {}).get("spec") or {}).get("containers") or []:
        if c.get("name") == container:
            return c
    return None


def _env(container: dict) -> dict[str, dict]:
    return {e.get("name"): e for e in container.get("env") or []}


def _image(values: dict, key: str) -> str:
    image = value_at(values, key) or {}
    return f"{image.get('repository')}:{image.get('tag')}"


def check_contract(r: Rendered) -> list[Problem]:
    p: list[Problem] = []
    v = r.values
    engine, store, secret = v.get("engine"), v.get("storeId"), v.get("existingSecret")

    if r.release != store or r.namespace != store:
        p.append(Problem("contract", f"release {r.release!r} / namespace {r.namespace!r} must both be the store id {store!r}"))

    # Exactly the objects the executors expect; no Secret, ever.
    have = {(o.get("kind"), (o.get("metadata") or {}).get("name")) for o in r.objects}
    want = expected_objects(v)
    for kind, name in sorted(want - have):
        p.append(Problem("contract", f"{kind}/{name} is missing"))
    for kind, name in sorted(have - want):
        p.append(Problem("contract", f"{kind}/{name} is not part of the contract for this value set"))

    # Labels on every object and pod template.
    for obj in r.objects:
        labels = (obj.get("metadata") or {}).get("labels") or {}
        tpl = pod_template(obj)
        sets = [("", labels)] + ([(" pod template", (tpl.get("metadata") or {}).get("labels") or {})] if tpl else [])
        for where, ls in sets:
            for key, expected in (("app.kubernetes.io/managed-by", "Helm"), ("app.kubernetes.io/instance", store),
                                  ("app.kubernetes.io/part-of", "storeflow"), ("storeflow.io/store-id", store),
                                  ("storeflow.io/engine", engine)):
                if ls.get(key) != expected:
                    p.append(Problem("contract", f"{ref(obj)}{where} label {key}={ls.get(key)!r}, expected {expected!r}"))
        if tpl:
            selector = ((obj.get("spec") or {}).get("selector") or {}).get("matchLabels") or {}
            if set(selector) != SELECTOR_KEYS:
                p.append(Problem("contract", f"{ref(obj)} selector keys {sorted(selector)} must be {sorted(SELECTOR_KEYS)}"))

    # Secrets only through secretKeyRef on existingSecret, with the engine's keys.
    for obj in r.objects:
        tpl = pod_template(obj)
        if not tpl:
            continue
        spec = tpl.get("spec") or {}
        for c in (spec.get("initContainers") or []) + (spec.get("containers") or []):
            for env in c.get("env") or []:
                ref_ = (env.get("valueFrom") or {}).get("secretKeyRef")
                if ref_ is None:
                    continue
                if ref_.get("name") != secret:
                    p.append(Problem("contract", f"{ref(obj)} {c.get('name')} env {env.get('name')} reads Secret {ref_.get('name')!r}, not existingSecret {secret!r}"))
                if ref_.get("key") not in SECRET_KEYS.get(engine, set()):
                    p.append(Problem("contract", f"{ref(obj)} {c.get('name')} env {env.get('name')} reads key {ref_.get('key')!r}, not one of {sorted(SECRET_KEYS.get(engine, set()))}"))
            if c.get("envFrom"):
                p.append(Problem("contract", f"{ref(obj)} {c.get('name')} uses envFrom; read single keys with secretKeyRef"))

    if engine == "woocommerce":
        p += _woocommerce(r)
    elif engine == "medusa":
        p += _medusa(r)
    p += _ingress(r)
    p += _network(r)
    p += _storage(r)
    return p


def _woocommerce(r: Rendered) -> list[Problem]:
    p: list[Problem] = []
    v = r.values
    wp = _container(r, "Deployment", "wordpress", "wordpress")
    cli = _container(r, "Deployment", "wordpress", "wp-cli")
    db = _container(r, "StatefulSet", "mariadb", "mariadb")
    if not (wp and cli and db):
        return [Problem("contract", "Deployment/wordpress needs containers wordpress and wp-cli, StatefulSet/mariadb container mariadb")]
    if wp.get("image") != _image(v, "wordpress.image"):
        p.append(Problem("contract", f"wordpress image {wp.get('image')!r} differs from wordpress.image"))
    if not cli.get("image", "").startswith("wordpress:cli-"):
        p.append(Problem("contract", f"wp-cli image {cli.get('image')!r} is not the official wordpress:cli image"))
    if not db.get("image", "").startswith("mariadb:"):
        p.append(Problem("contract", f"mariadb image {db.get('image')!r} is not mariadb"))
    if {"name": "http", "containerPort": 80, "protocol": "TCP"} not in (wp.get("ports") or []):
        p.append(Problem("contract", "container wordpress must expose port 80 named http"))
    deployment = r.get("Deployment", "wordpress")
    volumes = {vol.get("name"): vol for vol in pod_template(deployment)["spec"].get("volumes") or []}
    docroots = []
    for c in (wp, cli):
        mount = next((m for m in c.get("volumeMounts") or [] if m.get("mountPath") == "/var/www/html"), None)
        if mount is None:
            p.append(Problem("contract", f"container {c.get('name')} does not mount /var/www/html"))
            continue
        docroots.append(mount.get("name"))
        claim = (volumes.get(mount.get("name"), {}).get("persistentVolumeClaim") or {}).get("claimName")
        if claim != "wordpress-data":
            p.append(Problem("contract", f"container {c.get('name')} mounts /var/www/html from {mount.get('name')}, not PVC wordpress-data"))
        if mount.get("subPath") or mount.get("readOnly"):
            p.append(Problem("contract", f"container {c.get('name')} must mount the whole document root read-write"))
    if len(set(docroots)) > 1:
        p.append(Problem("contract", "wordpress and wp-cli mount different volumes at /var/www/html"))
    db_env = {"WORDPRESS_DB_HOST", "WORDPRESS_DB_NAME", "WORDPRESS_DB_USER", "WORDPRESS_DB_PASSWORD"}
    for c in (wp, cli):
        missing = db_env - set(_env(c))
        if missing:
            p.append(Problem("contract", f"container {c.get('name')} lacks {sorted(missing)}"))
    if {k: _env(wp).get(k) for k in db_env} != {k: _env(cli).get(k) for k in db_env}:
        p.append(Problem("contract", "wordpress and wp-cli do not share the same database environment"))
    if _env(wp).get("WORDPRESS_DB_HOST", {}).get("value") != "mariadb:3306":
        p.append(Problem("contract", "WORDPRESS_DB_HOST must be mariadb:3306"))
    command = (cli.get("command") or []) + (cli.get("args") or [])
    if not command or any("{{" in str(x) for x in command):
        p.append(Problem("contract", "wp-cli must idle with a fixed command"))
    # Probes must pass on a not-yet-installed WordPress: no PHP page (they redirect to the installer).
    for probe in ("startupProbe", "readinessProbe", "livenessProbe"):
        spec = wp.get(probe) or {}
        path = (spec.get("httpGet") or {}).get("path")
        if path is not None and (path.endswith(".php") or path in ("/", "")):
            p.append(Problem("contract", f"wordpress {probe} GETs {path}, which redirects to install.php before `wp core install`"))
        if not (spec.get("httpGet") or spec.get("tcpSocket")):
            p.append(Problem("contract", f"wordpress {probe} must be httpGet on a static file or tcpSocket"))
    for probe in ("startupProbe", "readinessProbe", "livenessProbe"):
        command = ((db.get(probe) or {}).get("exec") or {}).get("command") or []
        if command[:1] != ["healthcheck.sh"] or "--connect" not in command or "--innodb_initialized" not in command:
            p.append(Problem("contract", f"mariadb {probe} must run healthcheck.sh --connect --innodb_initialized"))
    return p


def _medusa(r: Rendered) -> list[Problem]:
    p: list[Problem] = []
    v = r.values
    medusa = _container(r, "Deployment", "medusa", "medusa")
    pg = _container(r, "StatefulSet", "medusa-postgres", "postgres")
    if not (medusa and pg):
        return [Problem("contract", "Deployment/medusa needs container medusa, StatefulSet/medusa-postgres container postgres")]
    if medusa.get("image") != _image(v, "medusa.image"):
        p.append(Problem("contract", f"medusa image {medusa.get('image')!r} differs from medusa.image"))
    if {"name": "http", "containerPort": 9000, "protocol": "TCP"} not in (medusa.get("ports") or []):
        p.append(Problem("contract", "container medusa must expose port 9000 named http"))
    if not pg.get("image", "").startswith("postgres:"):
        p.append(Problem("contract", f"postgres image {pg.get('image')!r} is not postgres"))
    env = _env(medusa)
    names = [e.get("name") for e in medusa.get("env") or []]
    if env.get("DATABASE_URL", {}).get("value") != DATABASE_URL:
        p.append(Problem("contract", f"DATABASE_URL must be {DATABASE_URL}"))
    if "POSTGRES_PASSWORD" not in names or "DATABASE_URL" not in names or names.index("POSTGRES_PASSWORD") > names.index("DATABASE_URL"):
        p.append(Problem("contract", "POSTGRES_PASSWORD must be defined before DATABASE_URL (Kubernetes interpolates only earlier variables)"))
    for name, key in (("POSTGRES_PASSWORD", "postgres-password"), ("JWT_SECRET", "jwt-secret"), ("COOKIE_SECRET", "cookie-secret")):
        if ((env.get(name) or {}).get("valueFrom") or {}).get("secretKeyRef", {}).get("key") != key:
            p.append(Problem("contract", f"{name} must come from key {key} of existingSecret"))
    host = value_at(v, "ingress.host") or ""
    scheme = "https" if value_at(v, "ingress.tls.enabled") else "http"
    cors = value_at(v, "medusa.storeCors") or (f"{scheme}://{host}" if host else "")
    if (env.get("STORE_CORS") or {}).get("value") != cors:
        p.append(Problem("contract", f"STORE_CORS is {(env.get('STORE_CORS') or {}).get('value')!r}, expected {cors!r}"))
    if "ADMIN_CORS" not in env:
        p.append(Problem("contract", "ADMIN_CORS is not set"))
    if (env.get("NODE_ENV") or {}).get("value") != "production":
        p.append(Problem("contract", "NODE_ENV must be production"))
    for probe in ("startupProbe", "readinessProbe", "livenessProbe"):
        if ((medusa.get(probe) or {}).get("httpGet") or {}).get("path") != "/health":
            p.append(Problem("contract", f"medusa {probe} must GET /health"))
        command = ((pg.get(probe) or {}).get("exec") or {}).get("command") or []
        if command[:1] != ["pg_isready"]:
            p.append(Problem("contract", f"postgres {probe} must run pg_isready"))
    # Medusa's selector must never match its database pod (the old chart's bug).
    deployment, sts = r.get("Deployment", "medusa"), r.get("StatefulSet", "medusa-postgres")
    selector = (deployment.get("spec") or {}).get("selector", {}).get("matchLabels") or {}
    if selector_matches(selector, pod_template(sts)["metadata"].get("labels") or {}):
        p.append(Problem("contract", "the medusa selector matches the medusa-postgres pod"))
    svc = r.get("Service", "medusa")
    if svc and {"name": "http", "port": 9000, "targetPort": "http", "protocol": "TCP"} not in (svc["spec"].get("ports") or []):
        p.append(Problem("contract", "Service medusa must serve port 9000 named http"))
    if value_at(v, "medusa.storefront.enabled"):
        sf = _container(r, "Deployment", "storefront", "storefront")
        if sf is None:
            return p + [Problem("contract", "Deployment/storefront needs container storefront")]
        if {"name": "http", "containerPort": 8080, "protocol": "TCP"} not in (sf.get("ports") or []):
            p.append(Problem("contract", "container storefront must expose port 8080 named http"))
        if not sf.get("image", "").startswith("storeflow/storefront-medusa:") and _image(v, "medusa.storefront.image").startswith("storeflow/"):
            p.append(Problem("contract", f"storefront image {sf.get('image')!r} is not storeflow/storefront-medusa"))
        sf_env = _env(sf)
        expected = {
            "STORE_NAME": v.get("storeName") or v.get("storeId"),
            "MEDUSA_BACKEND_URL": value_at(v, "medusa.storefront.backendUrl") or "",
            "MEDUSA_PUBLISHABLE_KEY": value_at(v, "medusa.storefront.publishableKey") or "",
            "MEDUSA_UPSTREAM": "http://medusa:9000",
        }
        for name, value in expected.items():
            if (sf_env.get(name) or {}).get("value", None) != value:
                p.append(Problem("contract", f"storefront env {name}={(sf_env.get(name) or {}).get('value')!r}, expected {value!r}"))
        svc = r.get("Service", "storefront")
        if svc and {"name": "http", "port": 80, "targetPort": "http", "protocol": "TCP"} not in (svc["spec"].get("ports") or []):
            p.append(Problem("contract", "Service storefront must map port 80 to the container's http port"))
    return p


def _routes(ing: dict) -> dict[str, tuple[str, str]]:
    routes = {}
    for rule in (ing.get("spec") or {}).get("rules") or []:
        for path in ((rule.get("http") or {}).get("paths")) or []:
            svc = (path.get("backend") or {}).get("service") or {}
            routes[path.get("path")] = (svc.get("name"), (svc.get("port") or {}).get("name"))
    return routes


def _ingress(r: Rendered) -> list[Problem]:
    p: list[Problem] = []
    v = r.values
    for ing in r.of_kind("Ingress"):
        spec = ing.get("spec") or {}
        hosts = [rule.get("host") for rule in spec.get("rules") or []]
        if hosts != [value_at(v, "ingress.host")]:
            p.append(Problem("contract", f"{ref(ing)} hosts {hosts} must be [ingress.host]"))
        class_name = value_at(v, "ingress.className") or None
        if spec.get("ingressClassName") != class_name:
            p.append(Problem("contract", f"{ref(ing)} ingressClassName {spec.get('ingressClassName')!r}, expected {class_name!r}"))
        tls = spec.get("tls") or []
        if value_at(v, "ingress.tls.enabled"):
            if tls != [{"hosts": [value_at(v, "ingress.host")], "secretName": value_at(v, "ingress.tls.secretName")}]:
                p.append(Problem("contract", f"{ref(ing)} tls {tls} must name ingress.tls.secretName for ingress.host"))
        elif tls:
            p.append(Problem("contract", f"{ref(ing)} has tls although ingress.tls.enabled is false"))
        annotations = (ing.get("metadata") or {}).get("annotations") or {}
        expected_annotations = dict(value_at(v, "ingress.annotations") or {})
        admin = value_at(v, "engine") == "medusa" and value_at(v, "medusa.admin.enabled") is not False
        if name_of_obj(ing) == "medusa-admin-sign-in" and value_at(v, "ingress.controller") == "nginx":
            # Sign-in guessing is bounded per client address by the controller.
            expected_annotations.update({
                "nginx.ingress.kubernetes.io/limit-rpm": str(value_at(v, "medusa.admin.loginRatePerMinute")),
                "nginx.ingress.kubernetes.io/limit-burst-multiplier": "3",
            })
        if annotations != expected_annotations:
            p.append(Problem("contract", f"{ref(ing)} annotations {annotations}, expected {expected_annotations}"))
        routes = _routes(ing)
        if name_of_obj(ing) == "wordpress":
            expected = {"/": ("wordpress", "http")}
        elif name_of_obj(ing) == "medusa-admin-sign-in":
            expected = {"/admin/auth": ("medusa", "http")} if admin else {}
        else:
            expected = {"/store": ("medusa", "http")}
            if admin:
                # The admin UI and its API, behind Medusa's own authentication.
                expected["/app"] = ("medusa", "http")
                expected["/admin"] = ("medusa", "http")
            if value_at(v, "medusa.storefront.enabled"):
                expected["/"] = ("storefront", "http")
        if routes != expected:
            p.append(Problem("contract", f"{ref(ing)} routes {routes}, expected {expected}"))
    if (value_at(v, "engine") == "medusa" and value_at(v, "ingress.enabled")
            and value_at(v, "medusa.admin.enabled") is not False
            and not any(name_of_obj(i) == "medusa-admin-sign-in" for i in r.of_kind("Ingress"))):
        p.append(Problem("contract", "Ingress/medusa-admin-sign-in is missing: admin sign-ins must be rate-limited "
                                     "at the ingress when the admin is routed"))
    return p


def name_of_obj(obj: dict) -> str:
    return (obj.get("metadata") or {}).get("name") or ""


def _network(r: Rendered) -> list[Problem]:
    p: list[Problem] = []
    v = r.values
    if not value_at(v, "networkPolicy.enabled"):
        return p
    # The store's egress lockdown rests on default-deny (the generic check also accepts a chart
    # that isolates its pods for ingress only, as the control plane does).
    deny = r.get("NetworkPolicy", "default-deny")
    if deny is None:
        p.append(Problem("contract", "NetworkPolicy/default-deny is missing: the store's egress lockdown "
                                     "(no cloud metadata, no private ranges) rests on it"))
    else:
        spec = deny.get("spec") or {}
        if ((spec.get("podSelector") or {}) != {} or set(spec.get("policyTypes") or []) != {"Ingress", "Egress"}
                or spec.get("ingress") or spec.get("egress")):
            p.append(Problem("contract", "NetworkPolicy/default-deny must select every pod (podSelector {}) and isolate "
                                         "Ingress and Egress without rules: only the allow-* policies may let traffic in or out"))
    controller = value_at(v, "ingress.controller")
    namespace = value_at(v, "ingress.controllerNamespace") or ("kube-system" if controller == "traefik" else "ingress-nginx")
    engine = v.get("engine")
    apps = {"woocommerce": [("allow-wordpress", 80)], "medusa": [("allow-medusa", 9000)]}[engine]
    if engine == "medusa" and value_at(v, "medusa.storefront.enabled"):
        apps.append(("allow-storefront", 8080))
    for name, port in apps:
        pol = r.get("NetworkPolicy", name)
        if pol is None:
            continue
        admitted = False
        for rule in (pol.get("spec") or {}).get("ingress") or []:
            from_controller = any(((peer.get("namespaceSelector") or {}).get("matchLabels") or {}).get("kubernetes.io/metadata.name") == namespace
                                  for peer in rule.get("from") or [])
            if from_controller and any(x.get("port") == port for x in rule.get("ports") or []):
                admitted = True
        if not admitted:
            p.append(Problem("contract", f"NetworkPolicy/{name} does not admit the {controller} controller (namespace {namespace}) to port {port}"))
        for cidr in value_at(v, "networkPolicy.allowedIngressCidrs") or []:
            if not any(any((peer.get("ipBlock") or {}).get("cidr") == cidr for peer in rule.get("from") or [])
                       for rule in (pol.get("spec") or {}).get("ingress") or []):
                p.append(Problem("contract", f"NetworkPolicy/{name} does not admit allowedIngressCidrs {cidr}"))
    # app -> db inside the namespace
    pairs = {"woocommerce": ("allow-mariadb", "wordpress", 3306), "medusa": ("allow-medusa-postgres", "medusa", 5432)}[engine]
    pol = r.get("NetworkPolicy", pairs[0])
    ok = pol is not None and any(
        any(((peer.get("podSelector") or {}).get("matchLabels") or {}).get("app.kubernetes.io/name") == pairs[1] for peer in rule.get("from") or [])
        and any(x.get("port") == pairs[2] for x in rule.get("ports") or [])
        for rule in (pol.get("spec") or {}).get("ingress") or [])
    if not ok:
        p.append(Problem("contract", f"NetworkPolicy/{pairs[0]} does not admit {pairs[1]} on {pairs[2]}"))
    # Internet egress never reaches the metadata service (checked generically) and exists only
    # where the values ask for it.
    for name, key in (("allow-wordpress", "wordpress"), ("allow-medusa", "medusa")):
        pol = r.get("NetworkPolicy", name)
        if pol is None:
            continue
        internet = any("ipBlock" in peer for rule in (pol.get("spec") or {}).get("egress") or [] for peer in rule.get("to") or [])
        if internet != bool(value_at(v, f"networkPolicy.internetEgress.{key}")):
            p.append(Problem("contract", f"NetworkPolicy/{name} internet egress is {internet}, networkPolicy.internetEgress.{key} says {value_at(v, f'networkPolicy.internetEgress.{key}')}"))
    return p


def _storage(r: Rendered) -> list[Problem]:
    p: list[Problem] = []
    v = r.values
    claims = []
    pvc = r.get("PersistentVolumeClaim", "wordpress-data")
    if pvc:
        claims.append(("PersistentVolumeClaim/wordpress-data", pvc.get("spec") or {}, "wordpress.persistence"))
    for sts_name, key in (("mariadb", "mariadb.persistence"), ("medusa-postgres", "medusa.postgresql.persistence")):
        sts = r.get("StatefulSet", sts_name)
        for vct in ((sts or {}).get("spec") or {}).get("volumeClaimTemplates") or []:
            claims.append((f"StatefulSet/{sts_name} claim {vct['metadata']['name']}", vct.get("spec") or {}, key))
    for where, spec, key in claims:
        wanted = value_at(v, f"{key}.storageClass") or v.get("storageClass") or ""
        if wanted == "":
            if "storageClassName" in spec:
                p.append(Problem("contract", f"{where} sets storageClassName {spec['storageClassName']!r}; an unset class must use the cluster default"))
        elif wanted == "-":
            if spec.get("storageClassName") != "":
                p.append(Problem("contract", f"{where} must render storageClassName: \"\" for storageClass \"-\""))
        elif spec.get("storageClassName") != wanted:
            p.append(Problem("contract", f"{where} storageClassName {spec.get('storageClassName')!r}, expected {wanted!r}"))
        if ((spec.get("resources") or {}).get("requests") or {}).get("storage") != value_at(v, f"{key}.size"):
            p.append(Problem("contract", f"{where} size differs from {key}.size"))
    return p


# Charts with a contract: chart name -> check.
CONTRACTS = {"ecommerce-store": check_contract}
