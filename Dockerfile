# syntax=docker/dockerfile:1
# The storeflow control-plane image: the `storeflow` binary (API, worker, migrations, doctor,
# CLI), the dashboard's static files, the store chart, and pinned helm and kubectl. One image
# for every role; the command picks it (`serve`, `worker`, `migrate`, `doctor`, `runs …`).
#
#   docker build -t storeflow/storeflow:0.1.0 .
#
# Runs as the distroless `nonroot` user (uid/gid 65532) with no shell. Without KUBECONFIG
# (and without ~/.kube/config) storeflow uses the pod's service account and hands helm the
# same API server, CA and token (HELM_KUBEAPISERVER, HELM_KUBECAFILE, HELM_KUBETOKEN).
# No Docker engine runs where this is developed: scripts/check_image.py (run by the tests)
# checks this file against the workspace, .dockerignore and the charts instead.
# Multi-arch: linux/amd64 and linux/arm64 (helm and kubectl have checksums for both).

ARG RUST_VERSION=1.95
ARG NODE_VERSION=20

# --- dashboard: static files, platform independent, so built on the build machine's arch ----
FROM --platform=$BUILDPLATFORM node:${NODE_VERSION}-alpine AS dashboard
WORKDIR /dashboard
# The lockfile was written by npm 11 (Vite 8 needs it to install its platform packages).
RUN npm install -g npm@11.19.1 --no-audit --no-fund
COPY dashboard/package.json dashboard/package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY dashboard/index.html dashboard/vite.config.ts dashboard/tsconfig.json ./
COPY dashboard/public ./public
COPY dashboard/scripts ./scripts
COPY dashboard/src ./src
# `build` type-checks, bundles and enforces the size budget (scripts/sizes.mjs).
RUN npm run build

# --- helm and kubectl: pinned versions, verified against their published SHA-256 -----------
# The checksums are the ones published beside the downloads
# (https://get.helm.sh/helm-<version>-linux-<arch>.tar.gz.sha256sum and
# https://dl.k8s.io/release/<version>/bin/linux/<arch>/kubectl.sha256). A mismatch fails the
# build instead of shipping whatever the mirror served. Bump version and both sums together.
FROM --platform=$BUILDPLATFORM debian:trixie-slim AS tools
ARG TARGETARCH
# Helm 3: the executors drive `helm upgrade --install/status/history/rollback/uninstall`
# and parse Helm 3's JSON output.
ARG HELM_VERSION=v3.22.0
ARG HELM_SHA256_AMD64=1e4ab49e429626cf6c6958d914248b78c9730803c2751b87627e171dc800e7bb
ARG HELM_SHA256_ARM64=f14e804dfee240f55525b667488fe9adca349e63e00c9af634c0beb1421ac310
# kubectl is for operators (`kubectl exec … -- kubectl auth can-i …`); storeflow itself talks
# to the API server with kube-rs. Within one minor version of the clusters it is used against.
ARG KUBECTL_VERSION=v1.36.0
ARG KUBECTL_SHA256_AMD64=123d8c8844f46b1244c547fffb3c17180c0c26dac9890589fe7e67763298748e
ARG KUBECTL_SHA256_ARM64=9f9d9c44a7b5264515ac9da5991584e2395bd50662e651132337e7b4d0c56f8f
# Only the download tools; what they fetch is pinned by checksum below, so their own versions
# do not matter.
# hadolint ignore=DL3008
RUN apt-get update \
    && apt-get install -y --no-install-recommends ca-certificates curl \
    && rm -rf /var/lib/apt/lists/*
SHELL ["/bin/bash", "-o", "pipefail", "-c"]
RUN set -eu; \
    case "${TARGETARCH}" in \
        amd64) helm_sha="${HELM_SHA256_AMD64}"; kubectl_sha="${KUBECTL_SHA256_AMD64}" ;; \
        arm64) helm_sha="${HELM_SHA256_ARM64}"; kubectl_sha="${KUBECTL_SHA256_ARM64}" ;; \
        *) echo "no pinned helm/kubectl checksum for architecture ${TARGETARCH}" >&2; exit 1 ;; \
    esac; \
    curl -fsSL -o /tmp/helm.tar.gz "https://get.helm.sh/helm-${HELM_VERSION}-linux-${TARGETARCH}.tar.gz"; \
    echo "${helm_sha}  /tmp/helm.tar.gz" | sha256sum -c -; \
    tar -xzf /tmp/helm.tar.gz -C /tmp "linux-${TARGETARCH}/helm"; \
    install -D -m 0755 "/tmp/linux-${TARGETARCH}/helm" /out/helm; \
    curl -fsSL -o /tmp/kubectl "https://dl.k8s.io/release/${KUBECTL_VERSION}/bin/linux/${TARGETARCH}/kubectl"; \
    echo "${kubectl_sha}  /tmp/kubectl" | sha256sum -c -; \
    install -D -m 0755 /tmp/kubectl /out/kubectl

# --- storeflow: release build of the one binary ----------------------------------------------
# Built on Debian trixie so it links against the same glibc as the runtime image below.
FROM rust:${RUST_VERSION}-slim-trixie AS build
WORKDIR /src
# Only what the workspace needs to compile: every member's manifest and sources (cargo loads
# the whole workspace even for -p storeflow) and the migrations that sqlx::migrate! embeds.
COPY Cargo.toml Cargo.lock ./
COPY engine ./engine
COPY workflows ./workflows
COPY executors ./executors
COPY server ./server
COPY testkit ./testkit
COPY pglocal ./pglocal
COPY fakecluster ./fakecluster
COPY examples/custom-engine ./examples/custom-engine
COPY migrations ./migrations
# Cache mounts keep the registry and the target directory between builds; the binary is
# copied out in the same step because a cache mount is not part of the image. Without default
# features: the image's binary links no simulated cluster (it provisions into real ones).
RUN --mount=type=cache,target=/usr/local/cargo/registry,sharing=locked \
    --mount=type=cache,target=/src/target,sharing=locked \
    cargo build --release -p storeflow --no-default-features --bin storeflow --locked \
    && install -D -m 0755 target/release/storeflow /out/storeflow

# --- runtime ---------------------------------------------------------------------------------
# distroless/cc: glibc, libgcc and CA certificates, no shell or package manager.
FROM gcr.io/distroless/cc-debian13:nonroot
COPY --from=build /out/storeflow /usr/local/bin/storeflow
COPY --from=tools /out/helm /usr/local/bin/helm
COPY --from=tools /out/kubectl /usr/local/bin/kubectl
COPY --from=dashboard /dashboard/dist /opt/storeflow/dashboard
# The store chart storeflow installs into each store namespace (its lint value sets stay out).
COPY charts/ecommerce-store /opt/storeflow/charts/ecommerce-store
WORKDIR /opt/storeflow
# Where storeflow finds its parts in this image. Helm's cache/config/data live under /tmp so
# the container can run with a read-only root filesystem (the chart mounts an emptyDir there;
# storeflow writes helm's 0600 values files to the temp directory too).
ENV STOREFLOW_DASHBOARD_DIR=/opt/storeflow/dashboard \
    HELM_BIN=/usr/local/bin/helm \
    HELM_CHART_PATH=/opt/storeflow/charts/ecommerce-store \
    HELM_CACHE_HOME=/tmp/helm/cache \
    HELM_CONFIG_HOME=/tmp/helm/config \
    HELM_DATA_HOME=/tmp/helm/data \
    KUBECACHEDIR=/tmp/kube-cache \
    HOST=0.0.0.0 \
    PORT=3001
USER 65532:65532
# 3001: the API and dashboard (`serve`); 9464: worker metrics (`worker --metrics-listen`).
EXPOSE 3001 9464
ENTRYPOINT ["/usr/local/bin/storeflow"]
CMD ["serve"]
