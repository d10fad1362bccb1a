#!/usr/bin/env python3
"""Checks the images' Dockerfiles against the repository, since no Docker engine runs here to
build them. The control-plane image (Dockerfile at the root):

- every path the Dockerfile COPYs from the build context exists and survives .dockerignore;
- every Cargo workspace member reaches the Rust build stage (cargo loads the whole workspace,
  so one missing member fails `cargo build -p storeflow`);
- the image's HELM_CHART_PATH is where the store chart is copied and what charts/storeflow
  tells the workers (stores.chartPath); STOREFLOW_DASHBOARD_DIR is where the dashboard lands;
- helm and kubectl are pinned with a SHA-256 per architecture, and the image runs as non-root.

The Medusa backend and storefront images: every COPY from their context exists and survives
their .dockerignore, and they run as non-root.

`--selftest` plants known defects in copies of the inputs and fails unless each is reported.
Exit status 1 with one line per problem.
"""

from __future__ import annotations

import re
import sys
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def instructions(dockerfile: str) -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) with continuation lines joined and comments dropped."""
    out: list[tuple[str, str]] = []
    current = ""
    for line in dockerfile.splitlines():
        stripped = line.strip()
        if not current and (not stripped or stripped.startswith("#")):
            continue
        if stripped.startswith("#"):
            continue
        if stripped.endswith("\\"):
            current += stripped[:-1] + " "
            continue
        current += stripped
        word, _, rest = current.partition(" ")
        out.append((word.upper(), rest.strip()))
        current = ""
    return out


def ignore_patterns(dockerignore: str) -> list[tuple[bool, str]]:
    """(is_exception, pattern) in file order, as Docker reads .dockerignore."""
    patterns = []
    for line in dockerignore.splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        exception = line.startswith("!")
        pattern = line[1:] if exception else line
        patterns.append((exception, pattern.strip("/")))
    return patterns


def _matches(pattern: str, path: str) -> bool:
    """Docker semantics, simplified: `**` spans directories, a pattern matching a directory
    excludes everything below it."""
    parts = path.split("/")
    regex = re.escape(pattern).replace(r"\*\*/", "(.*/)?").replace(r"\*\*", ".*")
    regex = regex.replace(r"\*", "[^/]*").replace(r"\?", "[^/]")
    for depth in range(1, len(parts) + 1):
        if re.fullmatch(regex, "/".join(parts[:depth])):
            return True
    return False


def ignored(patterns: list[tuple[bool, str]], path: str) -> bool:
    result = False
    for exception, pattern in patterns:
        if _matches(pattern, path):
            result = not exception
    return result


def check(dockerfile: str, dockerignore: str, members: list[str], chart_path_value: str,
          root: Path = ROOT) -> list[str]:
    problems: list[str] = []
    steps = instructions(dockerfile)
    patterns = ignore_patterns(dockerignore)

    stage = ""
    copied_into: dict[str, list[str]] = {}
    copies: list[tuple[str, str, str]] = []  # (stage, source, destination)
    env: dict[str, str] = {}
    args: dict[str, str] = {}
    user = None
    for word, rest in steps:
        if word == "FROM":
            m = re.search(r"\bAS\s+(\S+)", rest, re.IGNORECASE)
            stage = m.group(1) if m else "final"
            # What counts is the final stage's: an earlier stage's USER or ENV is not inherited.
            env, user = {}, None
        elif word == "COPY":
            tokens = [t for t in rest.split() if not t.startswith("--chown") and not t.startswith("--chmod")]
            from_stage = next((t.split("=", 1)[1] for t in tokens if t.startswith("--from=")), None)
            tokens = [t for t in tokens if not t.startswith("--")]
            *sources, destination = tokens
            for source in sources:
                if from_stage is None:
                    copies.append((stage, source, destination))
                    copied_into.setdefault(stage, []).append(source.rstrip("/"))
                else:
                    copies.append((f"from:{from_stage}", source, destination))
        elif word == "ENV":
            for key, value in re.findall(r"(\w+)=(\S+)", rest):
                env[key] = value
        elif word == "ARG":
            key, _, value = rest.partition("=")
            args[key.strip()] = value.strip()
        elif word == "USER":
            user = rest.split(":")[0]

    for stage_name, source, destination in copies:
        if stage_name.startswith("from:"):
            continue
        if not (root / source).exists():
            problems.append(f"COPY {source} ({stage_name} stage): no such path in the repository")
        elif ignored(patterns, source.rstrip("/")):
            problems.append(f"COPY {source} ({stage_name} stage): excluded by .dockerignore, so the build cannot see it")

    build_sources = copied_into.get("build", [])
    for member in members:
        covered = any(member == s or member.startswith(s + "/") for s in build_sources)
        if not covered:
            problems.append(f"workspace member {member} is not copied into the build stage: "
                            "cargo loads every member, so `cargo build -p storeflow` fails")
        elif ignored(patterns, member):
            problems.append(f"workspace member {member} is excluded by .dockerignore: the build cannot see it")

    chart_dest = next((d.rstrip("/") for s, src, d in copies if src.rstrip("/") == "charts/ecommerce-store"), None)
    if env.get("HELM_CHART_PATH") != chart_dest:
        problems.append(f"ENV HELM_CHART_PATH={env.get('HELM_CHART_PATH')} but the store chart is copied to {chart_dest}")
    if chart_path_value != env.get("HELM_CHART_PATH"):
        problems.append(f"charts/storeflow stores.chartPath ({chart_path_value}) is not the image's HELM_CHART_PATH "
                        f"({env.get('HELM_CHART_PATH')})")
    dashboard_dest = next((d.rstrip("/") for s, src, d in copies if s == "from:dashboard"), None)
    if env.get("STOREFLOW_DASHBOARD_DIR") != dashboard_dest:
        problems.append(f"ENV STOREFLOW_DASHBOARD_DIR={env.get('STOREFLOW_DASHBOARD_DIR')} but the dashboard is copied to {dashboard_dest}")

    for tool in ("HELM", "KUBECTL"):
        if not args.get(f"{tool}_VERSION"):
            problems.append(f"{tool}_VERSION is not pinned")
        for arch in ("AMD64", "ARM64"):
            value = args.get(f"{tool}_SHA256_{arch}", "")
            if not re.fullmatch(r"[0-9a-f]{64}", value):
                problems.append(f"{tool}_SHA256_{arch} is not a SHA-256 ({value!r})")
    if "sha256sum -c" not in dockerfile:
        problems.append("the downloads are never verified (no `sha256sum -c`)")
    if user in (None, "0", "root"):
        problems.append(f"the image runs as root (USER {user})")
    return problems


def check_context(context: Path) -> list[str]:
    """The other images (Medusa backend, storefront): every COPY from the build context exists
    and survives that context's .dockerignore; the final user is not root."""
    dockerfile = (context / "Dockerfile").read_text()
    ignore = context / ".dockerignore"
    patterns = ignore_patterns(ignore.read_text() if ignore.exists() else "")
    problems = []
    user = None
    name = context.relative_to(ROOT)
    for word, rest in instructions(dockerfile):
        if word == "FROM":
            user = None
        if word == "USER":
            user = rest.split(":")[0]
        if word != "COPY" or "--from=" in rest:
            continue
        *sources, _ = [t for t in rest.split() if not t.startswith("--")]
        for source in sources:
            if not (context / source).exists():
                problems.append(f"{name}/Dockerfile: COPY {source}: no such path in {name}")
            elif ignored(patterns, source.rstrip("/")):
                problems.append(f"{name}/Dockerfile: COPY {source}: excluded by {name}/.dockerignore")
    if user in (None, "0", "root"):
        problems.append(f"{name}/Dockerfile: the image runs as root (USER {user})")
    return problems


def inputs(root: Path = ROOT) -> tuple[str, str, list[str], str]:
    members = tomllib.loads((root / "Cargo.toml").read_text())["workspace"]["members"]
    values = (root / "charts/storeflow/values.yaml").read_text()
    m = re.search(r"^\s+chartPath:\s*(\S+)", values, re.MULTILINE)
    return ((root / "Dockerfile").read_text(), (root / ".dockerignore").read_text(), members,
            m.group(1) if m else "")


def selftest() -> list[str]:
    dockerfile, dockerignore, members, chart_path = inputs()
    failures = []
    planted = {
        "a workspace member left out of the build stage":
            (dockerfile.replace("COPY examples/custom-engine ./examples/custom-engine\n", ""), dockerignore, members, chart_path),
        "a workspace member hidden by .dockerignore":
            (dockerfile, dockerignore.replace("!examples/custom-engine", ""), members, chart_path),
        "a chart path the workers do not use":
            (dockerfile, dockerignore, members, "/charts/elsewhere"),
        "an unverified download":
            (dockerfile.replace("sha256sum -c", "true"), dockerignore, members, chart_path),
        "a root image":
            (dockerfile.replace("USER 65532:65532", "USER root"), dockerignore, members, chart_path),
        "a non-root user only in an earlier stage":
            (dockerfile.replace("USER 65532:65532\n", "").replace("WORKDIR /dashboard\n", "WORKDIR /dashboard\nUSER 1000\n"),
             dockerignore, members, chart_path),
    }
    for name, args in planted.items():
        if args[0] == dockerfile and args[1] == dockerignore and args[3] == chart_path:
            failures.append(f"selftest: could not plant {name} (the inputs changed)")
        elif not check(*args):
            failures.append(f"selftest: {name} was not reported")
    return failures


def lockfile_current() -> list[str]:
    """The image builds with `cargo build --locked`: Cargo.lock must match the manifests."""
    import subprocess
    result = subprocess.run(["cargo", "metadata", "--locked", "--format-version", "1", "--quiet"],
                            cwd=ROOT, capture_output=True, text=True)
    if result.returncode != 0:
        return ["Cargo.lock does not match the manifests (`cargo build --locked` in the image would "
                f"fail): {result.stderr.strip().splitlines()[-1] if result.stderr.strip() else 'cargo metadata failed'}"]
    return []


def main() -> int:
    problems = check(*inputs()) + lockfile_current()
    for context in ("charts/medusa-backend", "storefront-medusa"):
        problems += check_context(ROOT / context)
    if "--selftest" in sys.argv[1:]:
        problems += selftest()
    for problem in problems:
        print(f"FAIL {problem}")
    if problems:
        return 1
    print("images: the Dockerfiles agree with their contexts, the workspace and the charts"
          + (" (6 planted defects caught)" if "--selftest" in sys.argv[1:] else ""))
    return 0


if __name__ == "__main__":
    sys.exit(main())
