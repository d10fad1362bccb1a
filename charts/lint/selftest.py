"""What the linter's self-test plants, and what it must catch.

Two kinds of planted defects:
- FIXTURES: small charts under fixtures/ that are broken on purpose (a template that does not
  parse; a chart that renders but breaks every structural rule). Each value set lists the
  check ids that must report.
- MUTATIONS: one-line edits of a copy of charts/ecommerce-store that reintroduce the old
  chart's defects (or break the executors' contract), and of a copy of charts/storeflow that
  break its RBAC, its namespace fence or its contract with the binary. Each must be caught by
  the named checks on the named value set. A store-chart mutation may be checked on
  charts/storeflow (`linted`): a kind the store chart starts to create must fail the control
  plane's RBAC coverage. A mutation whose text no longer occurs in the chart fails the
  self-test too, so these stay in step with the charts.
"""

from __future__ import annotations

from dataclasses import dataclass

FIXTURES: dict[str, dict[str, list[str]]] = {
    "broken-template": {"ci/default.yaml": ["helm-lint", "render"]},
    "insecure": {
        "ci/default.yaml": [
            "metadata", "images", "resources", "security-context", "pod-security", "volumes", "probes",
            "secrets", "selectors", "network-policy", "storage", "ingress", "quota", "notes", "schema",
        ],
        "ci/invalid/renders-anyway.yaml": ["expect-error"],
    },
}


@dataclass(frozen=True)
class Mutation:
    name: str
    file: str  # relative to the chart
    old: str
    new: str
    value_set: str  # ci file that must now fail
    expect: tuple[str, ...]  # check ids that must report
    chart: str = "ecommerce-store"  # the chart that is mutated
    linted: str | None = None  # the chart whose value set must fail (default: the mutated one)


MUTATIONS: list[Mutation] = [
    Mutation(
        "WordPress volume on wp-content only (core files lost on restart)",
        "templates/wordpress/deployment.yaml",
        "          volumeMounts:\n            - name: docroot\n              mountPath: /var/www/html\n          # A static",
        "          volumeMounts:\n            - name: docroot\n              mountPath: /var/www/html/wp-content\n          # A static",
        "ci/woocommerce-local.yaml", ("contract",),
    ),
    Mutation(
        "WordPress probes on /wp-login.php (never Ready before wp core install)",
        "templates/wordpress/deployment.yaml",
        "          readinessProbe:\n            httpGet:\n              path: /wp-includes/images/blank.gif",
        "          readinessProbe:\n            httpGet:\n              path: /wp-login.php",
        "ci/woocommerce-first-install.yaml", ("contract",),
    ),
    Mutation(
        "Medusa's selector also matches its PostgreSQL pod",
        "templates/medusa/postgres-statefulset.yaml",
        '{{- $ctx := dict "ctx" . "name" "medusa-postgres" "component" "database" }}',
        '{{- $ctx := dict "ctx" . "name" "medusa" "component" "backend" }}',
        "ci/medusa-api-only.yaml", ("selectors", "contract"),
    ),
    Mutation(
        "DATABASE_URL pointing elsewhere",
        "templates/medusa/deployment.yaml",
        "@medusa-postgres:5432/medusa",
        "@localhost:5432/medusa",
        "ci/medusa-api-only.yaml", ("contract",),
    ),
    Mutation(
        "A literal default database password",
        "templates/mariadb/statefulset.yaml",
        "            - name: MARIADB_ROOT_PASSWORD\n              valueFrom:\n                secretKeyRef:\n"
        "                  name: {{ .Values.existingSecret }}\n                  key: mariadb-root-password\n",
        "            - name: MARIADB_ROOT_PASSWORD\n              value: changeme-root\n",
        "ci/woocommerce-local.yaml", ("secrets",),
    ),
    Mutation(
        "Egress to the cloud metadata service",
        "values.yaml",
        "      - 169.254.0.0/16\n",
        "",
        "ci/woocommerce-local.yaml", ("network-policy",),
    ),
    Mutation(
        "NetworkPolicy admitting the controller only on port 80 (Medusa's 9000 blocked)",
        "templates/medusa/network-policy.yaml",
        "      ports:\n        - protocol: TCP\n          port: 9000\n  egress:",
        "      ports:\n        - protocol: TCP\n          port: 80\n  egress:",
        "ci/medusa-local-storefront.yaml", ("network-policy", "contract"),
    ),
    Mutation(
        "Unset storage class rendered as storageClassName: \"\"",
        "templates/_helpers.tpl",
        '{{- if eq $class "-" -}}',
        '{{- if or (eq $class "-") (eq $class "") -}}',
        "ci/woocommerce-local.yaml", ("storage", "contract"),
    ),
    Mutation(
        "WordPress installer public before `wp core install` (Ingress ignores ingress.enabled)",
        "templates/wordpress/ingress.yaml",
        '{{- if and (eq .Values.engine "woocommerce") .Values.ingress.enabled }}',
        '{{- if eq .Values.engine "woocommerce" }}',
        "ci/woocommerce-first-install.yaml", ("ingress", "contract"),
    ),
    Mutation(
        "Medusa Admin API routed publicly",
        "templates/medusa/ingress.yaml",
        "          - path: /store\n",
        "          - path: /admin\n            pathType: Prefix\n            backend:\n              service:\n"
        "                name: medusa\n                port:\n                  name: http\n          - path: /store\n",
        "ci/medusa-api-only.yaml", ("contract",),
    ),
    Mutation(
        "Medusa admin sign-ins not rate-limited at the ingress",
        "templates/medusa/ingress.yaml",
        '{{- if eq .Values.ingress.controller "nginx" }}',
        "{{- if false }}",
        "ci/medusa-storefront.yaml", ("contract",),
    ),
    Mutation(
        "WP-CLI without the database environment",
        "templates/wordpress/deployment.yaml",
        "          env:\n            {{- include \"store.wordpressDbEnv\" . | nindent 12 }}\n            - name: HOME",
        "          env:\n            - name: HOME",
        "ci/woocommerce-local.yaml", ("contract",),
    ),
    Mutation(
        "Privilege escalation allowed",
        "templates/_helpers.tpl",
        "allowPrivilegeEscalation: false",
        "allowPrivilegeEscalation: true",
        "ci/medusa-vps-storefront.yaml", ("security-context",),
    ),
    Mutation(
        "Quota too small for the store's own pods",
        "values-local.yaml",
        "  limitsMemory: 2Gi\n",
        "  limitsMemory: 1Gi\n",
        "ci/woocommerce-local.yaml", ("quota",),
    ),
    Mutation(
        "Missing store label on a pod template",
        "templates/_helpers.tpl",
        "storeflow.io/engine: {{ .Values.engine }}\n{{- end -}}",
        "{{- end -}}",
        "ci/medusa-api-only.yaml", ("contract",),
    ),
    Mutation(
        "Chart version in a StatefulSet's (immutable) volumeClaimTemplates",
        "templates/mariadb/statefulset.yaml",
        '{{- include "store.podLabels" $ctx | nindent 10 }}',
        '{{- include "store.componentLabels" $ctx | nindent 10 }}',
        "ci/woocommerce-local.yaml", ("storage",),
    ),
    Mutation(
        "A misspelt Kubernetes field",
        "templates/storefront/deployment.yaml",
        "      automountServiceAccountToken: false",
        "      automountServiceAccountTokens: false",
        "ci/medusa-local-storefront.yaml", ("schema",),
    ),
    # --- charts/storeflow: RBAC coverage, least privilege, namespace fence, contract --------
    Mutation(
        "Store role without NetworkPolicies (helm could not install any store)",
        "templates/rbac.yaml",
        'resources: ["ingresses", "networkpolicies"]',
        'resources: ["ingresses"]',
        "ci/external-db.yaml", ("rbac",), chart="storeflow",
    ),
    Mutation(
        "Store role without patch (helm upgrade would fail)",
        "templates/rbac.yaml",
        '$helmVerbs := list "get" "list" "watch" "create" "update" "patch" "delete"',
        '$helmVerbs := list "get" "list" "watch" "create" "update" "delete"',
        "ci/external-db.yaml", ("rbac",), chart="storeflow",
    ),
    Mutation(
        "A wildcard in the store role",
        "templates/rbac.yaml",
        'resources: ["pods/log"]',
        'resources: ["*"]',
        "ci/bundled-db.yaml", ("rbac",), chart="storeflow",
    ),
    Mutation(
        "Every Secret readable (store-secrets no longer the only name)",
        "templates/rbac.yaml",
        '    resourceNames: ["store-secrets"]\n    verbs: ["get", "patch"]',
        '    verbs: ["get", "patch"]',
        "ci/external-db.yaml", ("rbac",), chart="storeflow",
    ),
    Mutation(
        "The API runs as the workers' service account",
        "templates/api.yaml",
        'serviceAccountName: {{ include "storeflow.apiServiceAccount" . }}',
        'serviceAccountName: {{ include "storeflow.workerServiceAccount" . }}',
        "ci/external-db.yaml", ("rbac",), chart="storeflow",
    ),
    Mutation(
        "The fence forgets the service proxy",
        "templates/admission-policy.yaml",
        "          - pods/exec\n          - services/proxy\n",
        "          - pods/exec\n",
        "ci/external-db.yaml", ("admission",), chart="storeflow",
    ),
    Mutation(
        "The fence admits any namespace name",
        "templates/admission-policy.yaml",
        'matches("^store-[a-f0-9]{8}$")',
        'matches("^.*$")',
        "ci/bundled-db.yaml", ("admission",), chart="storeflow",
    ),
    Mutation(
        "The fence admits namespaces another tool manages",
        "templates/admission-policy.yaml",
        'namespaceObject.metadata.labels["app.kubernetes.io/managed-by"] == "storeflow"',
        'namespaceObject.metadata.labels["app.kubernetes.io/managed-by"] != ""',
        "ci/external-db.yaml", ("admission",), chart="storeflow",
    ),
    Mutation(
        "A fence expression that does not compile",
        "templates/admission-policy.yaml",
        "expression: 'request.operation == \"DELETE\" ? oldObject : object'",
        "expression: 'request.operation == \"DELETE\" ? oldObject'",
        "ci/external-db.yaml", ("admission",), chart="storeflow",
    ),
    Mutation(
        "A fence variable named with a CEL reserved word (the API server refuses the policy)",
        "templates/admission-policy.yaml",
        "    - name: written\n",
        "    - name: namespace\n",
        "ci/external-db.yaml", ("admission",), chart="storeflow",
    ),
    Mutation(
        "Workers killed before they release their leases",
        "templates/worker.yaml",
        "terminationGracePeriodSeconds: {{ add $w.shutdownGraceSeconds 20 }}",
        "terminationGracePeriodSeconds: {{ $w.shutdownGraceSeconds }}",
        "ci/external-db.yaml", ("contract",), chart="storeflow",
    ),
    Mutation(
        "Migrations no longer run before the binary",
        "templates/_helpers.tpl",
        "  args:\n    - migrate\n",
        "  args:\n    - doctor\n",
        "ci/bundled-db.yaml", ("contract",), chart="storeflow",
    ),
    Mutation(
        "The migrate init container without the database CA bundle (PGSSLROOTCERT names no file)",
        "templates/_helpers.tpl",
        '  {{- with include "storeflow.databaseCaMount" . }}\n  volumeMounts:\n    {{- . | nindent 4 }}\n  {{- end }}\n',
        "",
        "ci/external-tls.yaml", ("contract",), chart="storeflow",
    ),
    Mutation(
        "A database CA Secret without verify-full (the bundle would never be checked)",
        "templates/_helpers.tpl",
        "{{- else if $tls.caSecret -}}\nverify-full\n",
        "",
        "ci/external-tls-ca-bundle.yaml", ("contract",), chart="storeflow",
    ),
    Mutation(
        "HELM_DRIVER not passed (helm would keep records as Secrets the RBAC cannot read)",
        "templates/configmaps.yaml",
        "  HELM_DRIVER: {{ $s.helmDriver | quote }}\n",
        "",
        "ci/external-db.yaml", ("contract",), chart="storeflow",
    ),
    Mutation(
        "A misspelt store chart value (every install-chart step would fail)",
        "ci/ingress-tls.yaml",
        "    storageClass: local-path\n",
        "    storageclass: local-path\n",
        "ci/ingress-tls.yaml", ("contract",), chart="storeflow",
    ),
    Mutation(
        "The API's NetworkPolicy admits every pod of the cluster (any pod could forge X-Forwarded-For)",
        "templates/networkpolicies.yaml",
        '        {{- include "storeflow.ingressControllerPeer" . | nindent 8 }}\n',
        "        - namespaceSelector: {}\n          podSelector: {}\n",
        "ci/ingress-tls.yaml", ("network-policy", "contract"), chart="storeflow",
    ),
    Mutation(
        "The controller's namespace and pod selectors as two peers (either admits: any pod of kube-system)",
        "templates/_helpers.tpl",
        "    {{- include \"storeflow.ingressControllerNamespaceSelector\" . | nindent 4 }}\n  podSelector:",
        "    {{- include \"storeflow.ingressControllerNamespaceSelector\" . | nindent 4 }}\n- podSelector:",
        "ci/network-policy-traefik.yaml", ("contract",), chart="storeflow",
    ),
    Mutation(
        "The API's NetworkPolicy on the Service port instead of the container port (the API unreachable)",
        "templates/networkpolicies.yaml",
        "          port: {{ .Values.api.port }}\n",
        "          port: {{ .Values.service.port }}\n",
        "ci/external-db.yaml", ("network-policy", "contract"), chart="storeflow",
    ),
    Mutation(
        "The workers' NetworkPolicy opens every port to every namespace",
        "templates/networkpolicies.yaml",
        "  ingress:\n    - from:\n        {{- toYaml $np.metricsFrom | nindent 8 }}\n      ports:\n        - protocol: TCP\n          port: {{ .Values.metrics.port }}\n",
        "  ingress:\n    - from:\n        {{- toYaml $np.metricsFrom | nindent 8 }}\n",
        "ci/servicemonitor.yaml", ("network-policy", "contract"), chart="storeflow",
    ),
    Mutation(
        "The API's metrics rule opens every port to every namespace",
        "templates/networkpolicies.yaml",
        "    # The API's metrics listener, as the workers'.\n    - from:\n        {{- toYaml $np.metricsFrom | nindent 8 }}\n      ports:\n        - protocol: TCP\n          port: {{ .Values.metrics.port }}\n",
        "    # The API's metrics listener, as the workers'.\n    - from:\n        {{- toYaml $np.metricsFrom | nindent 8 }}\n",
        "ci/servicemonitor.yaml", ("network-policy", "contract"), chart="storeflow",
    ),
    Mutation(
        "The API's NetworkPolicy also restricts egress (the API could not reach its database)",
        "templates/networkpolicies.yaml",
        "  policyTypes:\n    - Ingress\n  ingress:\n    - from:\n        {{- if .Values.ingress.enabled }}",
        "  policyTypes:\n    - Ingress\n    - Egress\n  ingress:\n    - from:\n        {{- if .Values.ingress.enabled }}",
        "ci/network-policy-traefik.yaml", ("contract",), chart="storeflow",
    ),
    Mutation(
        "The bundled PostgreSQL admits every pod of the namespace",
        "templates/networkpolicies.yaml",
        "        - podSelector:\n            matchLabels:\n              {{- include \"storeflow.selectorLabels\" $api | nindent 14 }}\n",
        "        - podSelector: {}\n",
        "ci/bundled-db.yaml", ("contract",), chart="storeflow",
    ),
    Mutation(
        "NetworkPolicies rendered although networkPolicy.enabled is false",
        "templates/networkpolicies.yaml",
        "{{- if .Values.networkPolicy.enabled }}\n",
        "{{- if true }}\n",
        "ci/network-policy-disabled.yaml", ("network-policy", "contract"), chart="storeflow",
    ),
    # --- charts/ecommerce-store checked by charts/storeflow's RBAC coverage ------------------
    Mutation(
        "The store chart starts creating a kind the control plane's RBAC does not cover",
        "templates/common/limit-range.yaml",
        "        storage: {{ $l.minStorage | quote }}\n{{- end }}",
        "        storage: {{ $l.minStorage | quote }}\n---\napiVersion: v1\nkind: ServiceAccount\nmetadata:\n"
        "  name: store-runner\n  labels:\n    {{- include \"store.labels\" . | nindent 4 }}\n{{- end }}",
        "ci/external-db.yaml", ("rbac",), linted="storeflow",
    ),
]
