#!/usr/bin/env bash
# Every test of the repository, in one command (the one README.md and CI run):
#   1. Rust: unit, database (real PostgreSQL), in-process API (every answer checked against the
#      OpenAPI contract), executor and process tests (the live API fuzzed by schemathesis) —
#      including whole store lifecycles against the fake Kubernetes API and fake helm, the
#      Medusa steps against a real Medusa, and a real control plane (etcd, kube-apiserver,
#      kube-controller-manager, kube-scheduler, kwok nodes) with the real helm, built from
#      their Go modules by scripts/k8s-tools.sh;
#   2. the Helm charts' lint (Helm's Go library through helm-sdkpy, offline), with the control
#      plane's RBAC checked against every kind the store chart creates;
#   3. the Medusa storefront: unit tests, end to end in Chromium against a real Medusa v1, and
#      its image's nginx configuration;
#   4. the dashboard: unit tests, production build (size budget), end to end in Chromium
#      against the real storeflow server with the fake cluster.
# Missing tools are installed where that needs no privileges (npm packages, a Python virtual
# environment under target/); what needs root (PostgreSQL server binaries, Chromium, nginx) is
# named with the command that installs it.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)

section() { printf '\n==== %s\n' "$*"; }
need() {
    if ! command -v "$1" >/dev/null 2>&1; then
        echo "error: $1 is not installed; $2" >&2
        exit 2
    fi
}

section "Prerequisites"
need cargo "install Rust (https://rustup.rs)"
need python3 "install Python 3.11 or newer"
need node "install Node.js 20 (Debian: apt-get install nodejs npm)"
need npm "install npm"
need go "install Go 1.26 (the real-cluster tests build Kubernetes, kwok and helm from their Go modules)"
if [ ! -x /usr/bin/chromium ]; then
    echo "error: the browser tests drive /usr/bin/chromium; install it (Debian, as root: apt-get install chromium)" >&2
    exit 2
fi
if ! command -v nginx >/dev/null 2>&1 && [ ! -x /usr/sbin/nginx ]; then
    echo "error: the storefront image's nginx configuration is checked with nginx; install it (Debian, as root: apt-get install nginx)" >&2
    exit 2
fi
# The Medusa backend package is what the Rust tests and the storefront tests start as a real
# Medusa; the web apps need their own packages.
for dir in charts/medusa-backend storefront-medusa dashboard; do
    if [ ! -d "$dir/node_modules" ] || [ "$dir/package-lock.json" -nt "$dir/node_modules/.package-lock.json" ]; then
        echo "npm ci in $dir"
        (cd "$dir" && npm ci --no-audit --no-fund --loglevel=error)
    fi
done

section "Kubernetes test binaries (built from tools/*/go.mod, or reused from the cache)"
# etcd, kube-apiserver, kube-controller-manager, kube-scheduler, kubectl, kwok, helm: the real
# control plane of the real-cluster tests. A cold build takes about 20 minutes on 2 cores;
# later runs reuse the cache (outside the repository) in well under a second.
STOREFLOW_K8S_BIN=$(scripts/k8s-tools.sh | tail -n1)
export STOREFLOW_K8S_BIN

# The backup tests store into a real S3-compatible server: moto's server mode, from PyPI.
moto_venv="$root/target/moto-venv"
if [ ! -x "$moto_venv/bin/moto_server" ]; then
    echo "installing the S3-compatible test server (moto) into $moto_venv"
    python3 -m venv "$moto_venv"
    "$moto_venv/bin/pip" install --quiet --disable-pip-version-check -r testkit/s3-server-requirements.txt
fi
export STOREFLOW_MOTO_SERVER="$moto_venv/bin/moto_server"

# The API is fuzzed against its own OpenAPI contract by schemathesis, from PyPI.
fuzz_venv="$root/target/schemathesis-venv"
if [ ! -x "$fuzz_venv/bin/st" ] || ! "$fuzz_venv/bin/pip" freeze 2>/dev/null | grep -qxF -f <(grep -v '^#' testkit/schemathesis-requirements.txt); then
    echo "installing the API fuzzer (schemathesis) into $fuzz_venv"
    python3 -m venv "$fuzz_venv"
    "$fuzz_venv/bin/pip" install --quiet --disable-pip-version-check -r testkit/schemathesis-requirements.txt
fi
export STOREFLOW_SCHEMATHESIS="$fuzz_venv/bin/st"

section "Rust: cargo test --workspace"
cargo test --workspace

section "Production build: no fake cluster linked"
# The container image builds storeflow without default features; the simulated cluster (and the
# fake Kubernetes it runs) must then be out of the binary's dependency graph.
if cargo tree -p storeflow --no-default-features --edges normal --prefix none | grep -q '^storeflow-fakecluster '; then
    echo "storeflow without default features still depends on storeflow-fakecluster" >&2
    exit 1
fi
cargo tree -p storeflow --edges normal --prefix none | grep -q '^storeflow-fakecluster ' \
    || { echo "the check above no longer finds storeflow-fakecluster even with default features" >&2; exit 1; }

section "Helm charts: lint"
python=python3
if ! python3 -c 'import helm_sdkpy, celpy' >/dev/null 2>&1; then
    venv="$root/target/chart-lint-venv"
    if [ ! -x "$venv/bin/python" ] || ! "$venv/bin/python" -c 'import helm_sdkpy, celpy' >/dev/null 2>&1; then
        echo "installing the chart linter (helm-sdkpy) into $venv"
        python3 -m venv "$venv"
        "$venv/bin/pip" install --quiet --disable-pip-version-check --ignore-requires-python \
            -r charts/lint/requirements.txt
    fi
    python="$venv/bin/python"
fi
"$python" charts/lint/lint_charts.py

section "Control-plane image: Dockerfile against the workspace and the charts"
# No Docker engine here to build it; this checks what a build would trip over.
python3 scripts/check_image.py --selftest

section "Medusa storefront: unit, end-to-end and nginx tests"
(cd storefront-medusa && npm test && npm run e2e && npm run test:nginx)

section "Dashboard: unit tests, build, end-to-end tests"
# `cargo test` built target/debug/storeflow and target/debug/storeflow-fakecluster.
(cd dashboard && npm test && npm run build && npm run e2e)

section "all tests passed"
