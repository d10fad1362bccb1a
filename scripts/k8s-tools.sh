#!/usr/bin/env bash
# Builds, or reuses, the pinned Kubernetes test binaries from the Go modules under tools/:
#   tools/k8s   kube-apiserver, kube-controller-manager, kube-scheduler, kubectl, etcd
#   tools/kwok  kwok (the kubelet stand-in)
#   tools/helm  helm (v3)
# into a cache outside the repository, keyed by a hash of tools/*/go.mod, tools/*/go.sum,
# this script and the Go version:
#   ${STOREFLOW_TOOLS_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/storeflow/tools}/<key>/bin
# The last line on stdout is that bin directory; progress goes to stderr. A cached key is
# reused as it is, and marked used; after a build, other keys unused for 14 days are removed.
# Builds run one after another (GOFLAGS=-mod=readonly, CGO_ENABLED=0) into a temporary
# directory that is renamed into place once every binary has built and reported its version;
# concurrent runs wait on a lock in the cache directory.
#
# Environment:
#   STOREFLOW_TOOLS_DIR    the cache root (default above)
#   STOREFLOW_HEAVY_LOCK   a lock file to hold around each `go build` (e.g. one shared with cargo
#                          builds on a small machine); none by default
#
# Also in <key>/, from the pinned kwok module: share/kwok/crd/*.yaml (kwok's CRDs, which the API
# server needs before kwok starts with --enable-crds) and share/kwok/stage/*.yaml (kwok's node
# stages: initialize, heartbeat with lease); VERSIONS, and build-times.tsv
# (wall and CPU seconds and peak RSS of each build, measured with GNU time when present).
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
SCRIPT="$ROOT/scripts/k8s-tools.sh"
CACHE_ROOT=${STOREFLOW_TOOLS_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/storeflow/tools}

log() { echo "k8s-tools: $*" >&2; }

command -v go >/dev/null || { log "go is not on PATH"; exit 1; }

key() {
    {
        go env GOVERSION
        echo "--- scripts/k8s-tools.sh"
        cat "$SCRIPT"
        local f
        for f in $(cd "$ROOT" && ls tools/*/go.mod tools/*/go.sum | LC_ALL=C sort); do
            echo "--- $f"
            cat "$ROOT/$f"
        done
    } | sha256sum | cut -c1-16
}

KEY=$(key)
DEST="$CACHE_ROOT/$KEY"
BINARIES=(kube-apiserver kube-controller-manager kube-scheduler kubectl etcd kwok helm)

complete() {
    local b
    for b in "${BINARIES[@]}"; do [ -x "$DEST/bin/$b" ] || return 1; done
    [ -f "$DEST/VERSIONS" ]
}

if complete; then
    log "reusing $DEST"
    touch "$DEST" 2>/dev/null || true # marks it used (see the pruning below)
    echo "$DEST/bin"
    exit 0
fi

mkdir -p "$CACHE_ROOT"
exec 9>"$CACHE_ROOT/.lock"
log "waiting for the cache lock"
flock 9
if complete; then
    log "reusing $DEST (built by another run)"
    echo "$DEST/bin"
    exit 0
fi

# Only the lock holder builds, so any temporary directory left now is from a killed run.
rm -rf "$CACHE_ROOT"/.build-*
[ -e "$DEST" ] && rm -rf "$DEST"
TMP=$(mktemp -d "$CACHE_ROOT/.build-$KEY.XXXXXX")
trap 'rm -rf "$TMP"' EXIT
chmod 755 "$TMP"
mkdir -p "$TMP/bin" "$TMP/share/kwok/crd" "$TMP/share/kwok/stage"
printf 'binary\twall_seconds\tcpu_seconds\tpeak_rss_kib\n' > "$TMP/build-times.tsv"

export GOFLAGS=-mod=readonly
export CGO_ENABLED=0

# go build, timed; arguments: the module directory, the output name, then go build's arguments.
build() {
    local dir=$1 name=$2
    shift 2
    log "building $name (in tools/$(basename "$dir"))"
    local start=$SECONDS took cpu="" rss="" user sys
    local -a cmd=(go build -trimpath -o "$TMP/bin/$name" "$@")
    local -a lock=()
    [ -n "${STOREFLOW_HEAVY_LOCK:-}" ] && lock=(flock "$STOREFLOW_HEAVY_LOCK")
    if [ -x /usr/bin/time ]; then
        # GNU time inside the lock: wall and CPU (user + system) seconds and the peak RSS of
        # the build alone.
        (cd "$dir" && "${lock[@]}" /usr/bin/time -f '%e %M %U %S' -o "$TMP/.time" "${cmd[@]}") >&2
        read -r took rss user sys < <(tail -n1 "$TMP/.time")
        cpu=$(awk -v u="$user" -v s="$sys" 'BEGIN { printf "%.0f", u + s }')
    else
        (cd "$dir" && "${lock[@]}" "${cmd[@]}") >&2
        took=$((SECONDS - start))
    fi
    printf '%s\t%s\t%s\t%s\n' "$name" "$took" "$cpu" "$rss" >> "$TMP/build-times.tsv"
    log "built $name in ${took}s${cpu:+ (${cpu}s CPU), peak RSS ${rss} KiB}"
}

modver() { (cd "$1" && go list -m -f '{{.Version}}' "$2"); }
modtime() { (cd "$1" && go list -m -f '{{with .Time}}{{.UTC.Format "2006-01-02T15:04:05Z"}}{{end}}' "$2"); }

# Kubernetes: the version stamps hack/lib/version.sh sets, from the pinned module's version.
K8S="$ROOT/tools/k8s"
KV=$(modver "$K8S" k8s.io/kubernetes)
KMAJOR=${KV#v}; KMAJOR=${KMAJOR%%.*}
KMINOR=${KV#v*.}; KMINOR=${KMINOR%%.*}
KDATE=$(modtime "$K8S" k8s.io/kubernetes)
KLDF="-s -w"
for p in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
    KLDF="$KLDF -X $p.gitVersion=$KV -X $p.gitMajor=$KMAJOR -X $p.gitMinor=$KMINOR"
    KLDF="$KLDF -X $p.gitTreeState=clean -X $p.gitCommit= -X $p.buildDate=$KDATE"
done
for c in kube-apiserver kube-controller-manager kube-scheduler kubectl; do
    build "$K8S" "$c" -ldflags "$KLDF" "k8s.io/kubernetes/cmd/$c"
done
EV=$(modver "$K8S" go.etcd.io/etcd/server/v3)
# etcd's version is a constant of go.etcd.io/etcd/api/v3; its GitSHA stamp stays unset.
build "$K8S" etcd -ldflags "-s -w" go.etcd.io/etcd/server/v3

# kwok: its own version constant, and the Kubernetes version it is used with.
KWOK="$ROOT/tools/kwok"
WV=$(modver "$KWOK" sigs.k8s.io/kwok)
build "$KWOK" kwok -ldflags "-s -w -X sigs.k8s.io/kwok/pkg/consts.Version=${WV#v} -X sigs.k8s.io/kwok/pkg/consts.KubeVersion=${KV#v}" \
    sigs.k8s.io/kwok/cmd/kwok
KWOK_SRC=$(cd "$KWOK" && go list -m -f '{{.Dir}}' sigs.k8s.io/kwok)
cp "$KWOK_SRC"/kustomize/crd/bases/*.yaml "$TMP/share/kwok/crd/"
cp "$KWOK_SRC"/kustomize/stage/node/fast/node-initialize.yaml \
    "$KWOK_SRC"/kustomize/stage/node/heartbeat-with-lease/node-heartbeat-with-lease.yaml "$TMP/share/kwok/stage/"
chmod -R u+w "$TMP/share"

# helm v3: the stamps its Makefile sets (the Kubernetes version comes from its client-go).
HELM="$ROOT/tools/helm"
HV=$(modver "$HELM" helm.sh/helm/v3)
CGV=$(modver "$HELM" k8s.io/client-go)
HMINOR=${CGV#v0.}; HMINOR=${HMINOR%%.*}
HLDF="-s -w -X helm.sh/helm/v3/internal/version.version=$HV -X helm.sh/helm/v3/internal/version.gitTreeState=clean"
for p in helm.sh/helm/v3/pkg/lint/rules helm.sh/helm/v3/pkg/chartutil; do
    HLDF="$HLDF -X $p.k8sVersionMajor=1 -X $p.k8sVersionMinor=$HMINOR"
done
build "$HELM" helm -ldflags "$HLDF" helm.sh/helm/v3/cmd/helm

# Every binary must report the pinned version.
B="$TMP/bin"
check() { # name, expected text, command...
    local name=$1 want=$2 got
    shift 2
    got=$("$@" 2>&1) || true
    got=${got%%$'\n'*}
    case "$got" in
    *"$want"*) echo "$name $got" >> "$TMP/VERSIONS" ;;
    *) log "$name reports '$got', expected '$want'"; exit 1 ;;
    esac
}
check kube-apiserver "Kubernetes $KV" "$B/kube-apiserver" --version
check kube-controller-manager "Kubernetes $KV" "$B/kube-controller-manager" --version
check kube-scheduler "Kubernetes $KV" "$B/kube-scheduler" --version
check kubectl "Client Version: $KV" "$B/kubectl" version --client
check etcd "etcd Version: ${EV#v}" "$B/etcd" --version
check kwok "kwok version $WV" "$B/kwok" --version
check helm "Version:\"$HV\"" "$B/helm" version
rm -f "$TMP/.time"

mv -T "$TMP" "$DEST"
trap - EXIT
# Builds of other keys not used for 14 days go (each is about 0.5 GB).
find "$CACHE_ROOT" -mindepth 1 -maxdepth 1 -type d -name '????????????????' ! -name "$KEY" -mtime +14 \
    -exec rm -rf {} + 2>/dev/null || true
log "ready: $DEST"
sed 's/^/k8s-tools:   /' "$DEST/VERSIONS" >&2
echo "$DEST/bin"
