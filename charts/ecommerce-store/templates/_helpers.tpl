{{/*
Validation of the values every template depends on. Included at the top of every template, so
whichever template helm renders first reports the problem with a message that says what to set.
*/}}
{{- define "store.validate" -}}
{{- $v := .Values -}}
{{- if not $v.storeId -}}
{{- fail "storeId is required: set it to the store id, \"store-\" followed by 8 lowercase hex digits (e.g. storeId: store-0a1b2c3d)" -}}
{{- end -}}
{{- if not (kindIs "string" $v.storeId) -}}
{{- fail (printf "storeId must be a string, got %s" (kindOf $v.storeId)) -}}
{{- end -}}
{{- if not (regexMatch "^store-[a-f0-9]{8}$" $v.storeId) -}}
{{- fail (printf "storeId %q is invalid: it must match ^store-[a-f0-9]{8}$ (\"store-\" followed by 8 lowercase hex digits)" $v.storeId) -}}
{{- end -}}
{{- if ne .Release.Namespace $v.storeId -}}
{{- fail (printf "the release namespace %q is not the store's: install store %s into namespace %s (helm --namespace %s)" .Release.Namespace $v.storeId $v.storeId $v.storeId) -}}
{{- end -}}
{{- if ne .Release.Name $v.storeId -}}
{{- fail (printf "the release name %q is not the store's: the release of store %s must be named %s" .Release.Name $v.storeId $v.storeId) -}}
{{- end -}}
{{- if not $v.engine -}}
{{- fail "engine is required: set it to woocommerce or medusa" -}}
{{- end -}}
{{- if not (has $v.engine (list "woocommerce" "medusa")) -}}
{{- fail (printf "engine %q is not supported: set it to woocommerce or medusa" (toString $v.engine)) -}}
{{- end -}}
{{- if not $v.existingSecret -}}
{{- fail "existingSecret is required: name the Secret in the store namespace that holds the store's generated secrets (the chart never takes secrets as values)" -}}
{{- end -}}
{{- if not (has $v.ingress.controller (list "nginx" "traefik")) -}}
{{- fail (printf "ingress.controller %q is not supported: set it to nginx or traefik" (toString $v.ingress.controller)) -}}
{{- end -}}
{{- if $v.ingress.enabled -}}
{{- if not $v.ingress.host -}}
{{- fail "ingress.host is required when ingress.enabled is true: set the store's public host name" -}}
{{- end -}}
{{- end -}}
{{- if $v.ingress.host -}}
{{- if not (regexMatch "^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$" $v.ingress.host) -}}
{{- fail (printf "ingress.host %q is not a valid DNS name (lowercase letters, digits, '-' and '.')" $v.ingress.host) -}}
{{- end -}}
{{- end -}}
{{- if and $v.ingress.enabled $v.ingress.tls.enabled (not $v.ingress.tls.secretName) -}}
{{- fail "ingress.tls.secretName is required when ingress.tls.enabled is true: name the Secret holding the (wildcard) certificate in the store namespace" -}}
{{- end -}}
{{- end -}}

{{/* Store display name. */}}
{{- define "store.name" -}}
{{- default .Values.storeId .Values.storeName -}}
{{- end -}}

{{/* Chart label value. */}}
{{- define "store.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{/*
Labels shared by every object of the store (and its pods). No version in here: pod templates
carry these, and a chart upgrade alone must not restart the store.
*/}}
{{- define "store.baseLabels" -}}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/part-of: storeflow
storeflow.io/store-id: {{ .Values.storeId }}
storeflow.io/engine: {{ .Values.engine }}
{{- end -}}

{{/* Labels of objects that are not pods: base labels plus the chart. */}}
{{- define "store.labels" -}}
{{ include "store.baseLabels" . }}
helm.sh/chart: {{ include "store.chart" . }}
{{- end -}}

{{/*
Selector labels of one component: name + instance + component. Every workload has its own
name, so no two workloads' selectors overlap (Medusa's never matches its database pod).
Call with (dict "ctx" $ "name" "medusa" "component" "backend").
*/}}
{{- define "store.selectorLabels" -}}
app.kubernetes.io/name: {{ .name }}
app.kubernetes.io/instance: {{ .ctx.Release.Name }}
app.kubernetes.io/component: {{ .component }}
{{- end -}}

{{/* Labels of a component's objects (workload, service, PVC, policy). Same arguments. */}}
{{- define "store.componentLabels" -}}
{{ include "store.labels" .ctx }}
app.kubernetes.io/name: {{ .name }}
app.kubernetes.io/component: {{ .component }}
{{- end -}}

{{/* Labels of a component's pod template. Same arguments. */}}
{{- define "store.podLabels" -}}
{{ include "store.baseLabels" .ctx }}
app.kubernetes.io/name: {{ .name }}
app.kubernetes.io/component: {{ .component }}
{{- end -}}

{{/*
A pinned image reference. Call with (dict "image" .Values.x.image "key" "x.image").
Fails on a missing or floating tag.
*/}}
{{- define "store.image" -}}
{{- $repo := required (printf "%s.repository is required" .key) .image.repository -}}
{{- $tag := toString (required (printf "%s.tag is required: pin the image version" .key) .image.tag) -}}
{{- if or (eq $tag "latest") (eq $tag "") -}}
{{- fail (printf "%s.tag %q is not pinned: set an explicit version tag (never latest)" .key $tag) -}}
{{- end -}}
{{- printf "%s:%s" $repo $tag -}}
{{- end -}}

{{/*
storageClassName line of a PVC or volumeClaimTemplate.
Call with (dict "class" <component class> "default" .Values.storageClass).
"" -> no line (cluster default class); "-" -> storageClassName: ""; name -> storageClassName: name. Renders one line or nothing.
*/}}
{{- define "store.storageClass" -}}
{{- $class := .class | default .default | default "" | toString -}}
{{- if eq $class "-" -}}
storageClassName: ""
{{- else if $class -}}
storageClassName: {{ $class | quote }}
{{- end -}}
{{- end -}}

{{/* Pod-level securityContext. Call with the component's securityContext values. */}}
{{- define "store.podSecurityContext" -}}
runAsNonRoot: true
runAsUser: {{ .runAsUser }}
runAsGroup: {{ .runAsGroup }}
fsGroup: {{ .fsGroup }}
fsGroupChangePolicy: OnRootMismatch
seccompProfile:
  type: RuntimeDefault
{{- end -}}

{{/* Container-level securityContext. Call with (dict "readOnlyRootFilesystem" bool). */}}
{{- define "store.containerSecurityContext" -}}
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
Public origin of the store (scheme + host), "" without a host. It does not depend on
ingress.enabled, so exposing the store later does not restart its pods.
*/}}
{{- define "store.origin" -}}
{{- if .Values.ingress.host -}}
{{- printf "%s://%s" (ternary "https" "http" (eq (toString .Values.ingress.tls.enabled) "true")) .Values.ingress.host -}}
{{- end -}}
{{- end -}}

{{/* Namespace of the ingress controller pods. */}}
{{- define "store.controllerNamespace" -}}
{{- if .Values.ingress.controllerNamespace -}}
{{- .Values.ingress.controllerNamespace -}}
{{- else if eq .Values.ingress.controller "traefik" -}}
kube-system
{{- else -}}
ingress-nginx
{{- end -}}
{{- end -}}

{{/*
NetworkPolicy peers admitted to an app port: the ingress controller's pods and the configured
extra CIDRs.
*/}}
{{- define "store.ingressPeers" -}}
{{- $podLabels := dict "app.kubernetes.io/name" (ternary "traefik" "ingress-nginx" (eq .Values.ingress.controller "traefik")) -}}
{{- if hasKey .Values.ingress "controllerPodLabels" -}}
{{- $podLabels = .Values.ingress.controllerPodLabels | default dict -}}
{{- end -}}
- namespaceSelector:
    matchLabels:
      kubernetes.io/metadata.name: {{ include "store.controllerNamespace" . }}
  podSelector:
    {{- if $podLabels }}
    matchLabels:
      {{- toYaml $podLabels | nindent 6 }}
    {{- else }} {}
    {{- end }}
{{- range .Values.networkPolicy.allowedIngressCidrs }}
- ipBlock:
    cidr: {{ . }}
{{- end }}
{{- end -}}

{{/* Internet egress rule (to: + ports:), with the private and link-local ranges carved out. */}}
{{- define "store.internetEgress" -}}
- to:
    - ipBlock:
        cidr: {{ .Values.networkPolicy.internetEgress.cidr }}
        except:
          {{- toYaml .Values.networkPolicy.internetEgress.except | nindent 10 }}
  ports:
    {{- range .Values.networkPolicy.internetEgress.ports }}
    - protocol: TCP
      port: {{ . }}
    {{- end }}
{{- end -}}
