{{/*
Validation of the values the templates depend on. Included at the top of every template, so
whichever template helm renders first reports the problem, with a message that says what to set.
*/}}
{{- define "storeflow.validate" -}}
{{- $v := .Values -}}
{{- if eq $v.database.mode "external" -}}
{{- if not $v.database.external.existingSecret -}}
{{- fail (printf "database.external.existingSecret is required when database.mode is external: create a Secret in namespace %s whose key %s holds postgres://USER:PASSWORD@HOST:5432/DATABASE and name it here (or set database.mode=bundled to evaluate with a single PostgreSQL pod)" .Release.Namespace $v.database.external.key) -}}
{{- end -}}
{{- $tlsMode := toString (default "" $v.database.external.tls.mode) -}}
{{- if and $tlsMode (not (has $tlsMode (list "disable" "allow" "prefer" "require" "verify-ca" "verify-full"))) -}}
{{- fail (printf "database.external.tls.mode %q is not a PostgreSQL sslmode: set verify-full (verify the server's certificate and host name; with tls.caSecret when the CA is not a public one), verify-ca, require (encrypt without verifying), prefer, allow or disable, or leave it empty (sslmode from DATABASE_URL, or verify-full when tls.caSecret is set)" $tlsMode) -}}
{{- end -}}
{{- if and $v.database.external.tls.caSecret (has $tlsMode (list "disable" "allow" "prefer" "require")) -}}
{{- fail (printf "database.external.tls.caSecret is set but tls.mode %q never checks the server against that CA: set tls.mode to verify-full (or verify-ca, or leave it empty for verify-full), or remove tls.caSecret" $tlsMode) -}}
{{- end -}}
{{- end -}}
{{- if and $v.ingress.enabled (not $v.ingress.host) -}}
{{- fail "ingress.host is required when ingress.enabled is true: set the public host name of the API and dashboard (e.g. storeflow.example.com)" -}}
{{- end -}}
{{- if and $v.ingress.enabled $v.ingress.tls.enabled (not $v.ingress.tls.secretName) -}}
{{- fail "ingress.tls.secretName is required when ingress.tls.enabled is true: name the Secret that holds (or that cert-manager writes) the certificate for ingress.host" -}}
{{- end -}}
{{- if and $v.stores.chartValuesFile $v.stores.chartValues -}}
{{- fail "stores.chartValuesFile and stores.chartValues are exclusive (storeflow passes helm one values file): put the settings you need from the file into stores.chartValues" -}}
{{- end -}}
{{- if and $v.metrics.serviceMonitor.enabled (not $v.metrics.enabled) -}}
{{- fail "metrics.serviceMonitor.enabled needs metrics.enabled: the ServiceMonitor scrapes the workers' --metrics-listen port" -}}
{{- end -}}
{{- if and $v.metrics.serviceMonitor.enabled (not (.Capabilities.APIVersions.Has "monitoring.coreos.com/v1/ServiceMonitor")) -}}
{{- fail "metrics.serviceMonitor.enabled is true but the cluster does not serve monitoring.coreos.com/v1 ServiceMonitor: install the Prometheus Operator's CRDs, or turn it off and scrape the prometheus.io annotations" -}}
{{- end -}}
{{- if $v.networkPolicy.enabled -}}
{{- $ns := (default dict $v.networkPolicy.ingressController).namespaceSelector -}}
{{- if and (kindIs "map" $ns) (not (or $ns.matchLabels $ns.matchExpressions)) -}}
{{- fail "networkPolicy.ingressController.namespaceSelector admits every namespace: any pod labelled like the controller could then reach the API and forge X-Forwarded-For. Select the controller's namespace (matchLabels: {kubernetes.io/metadata.name: NAMESPACE}), or leave it null for the default of stores.ingressController" -}}
{{- end -}}
{{- range $key := list "extraApiIngress" "metricsFrom" -}}
{{- range $i, $peer := default (list) (get $v.networkPolicy $key) -}}
{{- if and (hasKey $peer "ipBlock") (or (hasKey $peer "podSelector") (hasKey $peer "namespaceSelector")) -}}
{{- fail (printf "networkPolicy.%s[%d] combines an ipBlock with a pod or namespace selector, which Kubernetes refuses: make the ipBlock a peer of its own" $key $i) -}}
{{- end -}}
{{- end -}}
{{- end -}}
{{- if and (ne $v.service.type "ClusterIP") (not $v.networkPolicy.extraApiIngress) -}}
{{- fail (printf "service.type %s lets clients reach the API pods from outside the cluster, but networkPolicy admits only %s to them: list the clients' source ranges in networkPolicy.extraApiIngress (e.g. - ipBlock: {cidr: 0.0.0.0/0}), or set networkPolicy.enabled=false" $v.service.type (ternary "the ingress controller's pods" "pods of the release namespace" $v.ingress.enabled)) -}}
{{- end -}}
{{- end -}}
{{- end -}}

{{/* Release-scoped name prefix; leaves room for the longest suffix (-namespace-fence-binding). */}}
{{- define "storeflow.fullname" -}}
{{- if contains .Chart.Name .Release.Name -}}
{{- .Release.Name | trunc 36 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name .Chart.Name | trunc 36 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}

{{- define "storeflow.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{/* Labels of every object that is not a pod. */}}
{{- define "storeflow.labels" -}}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/part-of: storeflow
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
helm.sh/chart: {{ include "storeflow.chart" . }}
{{- end -}}

{{/*
Selector labels of one component. Each workload has its own component, so no selector matches
another workload's pods. Call with (dict "ctx" $ "component" "api").
*/}}
{{- define "storeflow.selectorLabels" -}}
app.kubernetes.io/name: storeflow
app.kubernetes.io/instance: {{ .ctx.Release.Name }}
app.kubernetes.io/component: {{ .component }}
{{- end -}}

{{/* Labels of a component's objects. Same arguments. */}}
{{- define "storeflow.componentLabels" -}}
{{ include "storeflow.labels" .ctx }}
app.kubernetes.io/name: storeflow
app.kubernetes.io/component: {{ .component }}
{{- end -}}

{{/* Labels of a component's pods: no chart version, so a chart-only change restarts nothing. */}}
{{- define "storeflow.podLabels" -}}
{{ include "storeflow.selectorLabels" . }}
app.kubernetes.io/part-of: storeflow
{{- end -}}

{{/* The control-plane image, pinned: tag or the chart's appVersion, never latest. */}}
{{- define "storeflow.image" -}}
{{- $tag := toString (default .Chart.AppVersion .Values.image.tag) -}}
{{- if or (eq $tag "latest") (eq $tag "") -}}
{{- fail (printf "image.tag %q is not pinned: set an explicit version (or leave it empty for the chart's appVersion %s)" $tag .Chart.AppVersion) -}}
{{- end -}}
{{- printf "%s:%s" .Values.image.repository $tag -}}
{{- end -}}

{{/* The bundled PostgreSQL image, pinned. */}}
{{- define "storeflow.postgresImage" -}}
{{- $image := .Values.database.bundled.image -}}
{{- $tag := toString $image.tag -}}
{{- if or (eq $tag "latest") (eq $tag "") -}}
{{- fail (printf "database.bundled.image.tag %q is not pinned: set an explicit version" $tag) -}}
{{- end -}}
{{- printf "%s:%s" $image.repository $tag -}}
{{- end -}}

{{- define "storeflow.apiServiceAccount" -}}{{ include "storeflow.fullname" . }}-api{{- end -}}
{{- define "storeflow.workerServiceAccount" -}}{{ include "storeflow.fullname" . }}-worker{{- end -}}

{{/* The user name Kubernetes gives the worker's service account (RBAC subject, admission). */}}
{{- define "storeflow.workerUser" -}}
system:serviceaccount:{{ .Release.Namespace }}:{{ include "storeflow.workerServiceAccount" . }}
{{- end -}}

{{/* Secret and keys of JWT_SECRET and STOREFLOW_ENCRYPTION_KEY. */}}
{{- define "storeflow.secretsName" -}}
{{- default (printf "%s-secrets" (include "storeflow.fullname" .)) .Values.secrets.existingSecret -}}
{{- end -}}

{{- define "storeflow.postgresName" -}}{{ include "storeflow.fullname" . }}-postgresql{{- end -}}

{{/*
DATABASE_URL (and what it is built from). External: read whole from the named Secret. Bundled:
the password from the generated Secret, interpolated into the URL by Kubernetes ($(VAR) refers to
the variable defined just before), so no rendered object holds it.
*/}}
{{- define "storeflow.databaseEnv" -}}
{{- if eq .Values.database.mode "external" -}}
- name: DATABASE_URL
  valueFrom:
    secretKeyRef:
      name: {{ .Values.database.external.existingSecret }}
      key: {{ .Values.database.external.key }}
{{- with include "storeflow.databaseSslMode" . }}
- name: PGSSLMODE
  value: {{ . | quote }}
{{- end }}
{{- if include "storeflow.databaseCaSecret" . }}
- name: PGSSLROOTCERT
  value: {{ include "storeflow.databaseCaDir" . }}/ca.crt
{{- end }}
{{- else -}}
- name: STOREFLOW_DB_PASSWORD
  valueFrom:
    secretKeyRef:
      name: {{ include "storeflow.postgresName" . }}
      key: password
- name: DATABASE_URL
  value: postgres://storeflow:$(STOREFLOW_DB_PASSWORD)@{{ include "storeflow.postgresName" . }}:5432/storeflow
{{- end -}}
{{- end -}}

{{/*
TLS to the external database (database.external.tls; nothing for bundled). The binary reads
PGSSLMODE and PGSSLROOTCERT like libpq, as defaults that sslmode / sslrootcert in DATABASE_URL
override. A CA Secret without a mode means verify-full: verifying against that CA is its point.
*/}}
{{- define "storeflow.databaseSslMode" -}}
{{- if eq .Values.database.mode "external" -}}
{{- $tls := .Values.database.external.tls -}}
{{- if $tls.mode -}}
{{- $tls.mode -}}
{{- else if $tls.caSecret -}}
verify-full
{{- end -}}
{{- end -}}
{{- end -}}

{{/* The Secret holding the database's CA bundle, or "" (none, or not external). */}}
{{- define "storeflow.databaseCaSecret" -}}
{{- if eq .Values.database.mode "external" -}}
{{- default "" .Values.database.external.tls.caSecret -}}
{{- end -}}
{{- end -}}

{{- define "storeflow.databaseCaDir" -}}/etc/storeflow/database-ca{{- end -}}

{{/* volumeMounts entry of the CA bundle, in every container that gets DATABASE_URL. */}}
{{- define "storeflow.databaseCaMount" -}}
{{- if include "storeflow.databaseCaSecret" . -}}
- name: database-ca
  mountPath: {{ include "storeflow.databaseCaDir" . }}
  readOnly: true
{{- end -}}
{{- end -}}

{{/* volumes entry of the CA bundle: key database.external.tls.caKey of the Secret as ca.crt. */}}
{{- define "storeflow.databaseCaVolume" -}}
{{- with include "storeflow.databaseCaSecret" . -}}
- name: database-ca
  secret:
    secretName: {{ . }}
    items:
      - key: {{ $.Values.database.external.tls.caKey | quote }}
        path: ca.crt
{{- end -}}
{{- end -}}

{{- define "storeflow.encryptionKeyEnv" -}}
- name: STOREFLOW_ENCRYPTION_KEY
  valueFrom:
    secretKeyRef:
      name: {{ include "storeflow.secretsName" . }}
      key: {{ .Values.secrets.encryptionKeyKey }}
{{- end -}}

{{/* Pod securityContext of the storeflow pods: the distroless nonroot user. */}}
{{- define "storeflow.podSecurityContext" -}}
runAsNonRoot: true
runAsUser: 65532
runAsGroup: 65532
fsGroup: 65532
seccompProfile:
  type: RuntimeDefault
{{- end -}}

{{/* Container securityContext. Call with (dict "readOnlyRootFilesystem" bool). */}}
{{- define "storeflow.containerSecurityContext" -}}
runAsNonRoot: true
allowPrivilegeEscalation: false
privileged: false
readOnlyRootFilesystem: {{ .readOnlyRootFilesystem }}
capabilities:
  drop:
    - ALL
seccompProfile:
  type: RuntimeDefault
{{- end -}}

{{/*
The migration init container of every API and worker pod: `storeflow migrate` applies the
forward-only migrations before the main container starts, so a new binary never runs on an older
schema. Until the database answers it fails and the kubelet retries it with backoff.
*/}}
{{- define "storeflow.migrateInitContainer" -}}
- name: migrate
  image: {{ include "storeflow.image" . }}
  imagePullPolicy: {{ .Values.image.pullPolicy }}
  args:
    - migrate
  env:
    {{- include "storeflow.databaseEnv" . | nindent 4 }}
  securityContext:
    {{- include "storeflow.containerSecurityContext" (dict "readOnlyRootFilesystem" true) | nindent 4 }}
  resources:
    {{- toYaml .Values.migrations.resources | nindent 4 }}
  {{- with include "storeflow.databaseCaMount" . }}
  volumeMounts:
    {{- . | nindent 4 }}
  {{- end }}
{{- end -}}

{{/* storageClassName line: "" -> none (cluster default), "-" -> "", name -> name. */}}
{{- define "storeflow.storageClass" -}}
{{- $class := toString (default "" .) -}}
{{- if eq $class "-" -}}
storageClassName: ""
{{- else if $class -}}
storageClassName: {{ $class | quote }}
{{- end -}}
{{- end -}}

{{/* TRUST_PROXY: explicit value, else on exactly when the Ingress is. */}}
{{- define "storeflow.trustProxy" -}}
{{- if kindIs "bool" .Values.api.trustProxy -}}
{{- .Values.api.trustProxy -}}
{{- else -}}
{{- .Values.ingress.enabled -}}
{{- end -}}
{{- end -}}

{{/*
The ingress controller's pods, for the API's NetworkPolicy: networkPolicy.ingressController's
selectors or, where null, the defaults of stores.ingressController's controller -- the store
chart's defaults: ingress-nginx pods in namespace ingress-nginx, traefik pods in kube-system (k3s).
Each renders a LabelSelector as YAML.
*/}}
{{- define "storeflow.ingressControllerNamespaceSelector" -}}
{{- $selector := (default dict .Values.networkPolicy.ingressController).namespaceSelector -}}
{{- if not (kindIs "map" $selector) -}}
{{- $selector = dict "matchLabels" (dict "kubernetes.io/metadata.name" (ternary "kube-system" "ingress-nginx" (eq .Values.stores.ingressController "traefik"))) -}}
{{- end -}}
{{- toYaml $selector -}}
{{- end -}}

{{- define "storeflow.ingressControllerPodSelector" -}}
{{- $selector := (default dict .Values.networkPolicy.ingressController).podSelector -}}
{{- if not (kindIs "map" $selector) -}}
{{- $selector = dict "matchLabels" (dict "app.kubernetes.io/name" (ternary "traefik" "ingress-nginx" (eq .Values.stores.ingressController "traefik"))) -}}
{{- end -}}
{{- toYaml $selector -}}
{{- end -}}

{{/*
One NetworkPolicy peer: pods matching the pod selector inside namespaces matching the namespace
selector (both in one peer, so both must match; two peers would admit either).
*/}}
{{- define "storeflow.ingressControllerPeer" -}}
- namespaceSelector:
    {{- include "storeflow.ingressControllerNamespaceSelector" . | nindent 4 }}
  podSelector:
    {{- include "storeflow.ingressControllerPodSelector" . | nindent 4 }}
{{- end -}}

{{/* HELM_VALUES_FILE: the mounted ConfigMap, a file of the store chart in the image, or none. */}}
{{- define "storeflow.storeValuesFile" -}}
{{- if .Values.stores.chartValues -}}
/etc/storeflow/store-values/values.yaml
{{- else if .Values.stores.chartValuesFile -}}
{{- printf "%s/%s" (trimSuffix "/" .Values.stores.chartPath) .Values.stores.chartValuesFile -}}
{{- end -}}
{{- end -}}
