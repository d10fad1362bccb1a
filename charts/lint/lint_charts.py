#!/usr/bin/env python3
"""Lint every Helm chart under charts/ with Helm's own Go library (PyPI package helm-sdkpy).

    pip install --ignore-requires-python -r charts/lint/requirements.txt
    python3 charts/lint/lint_charts.py            # self-test, then every chart; exit 1 on any problem

A chart is any charts/<name>/ with a Chart.yaml. Its value sets are charts/<name>/ci/*.yaml
(a chart without ci/ is linted once with its defaults). Each value set is a plain Helm values
file; comment lines at its top starting with `# lint:` add directives:

    # lint: values=values-local.yaml      chart values files applied before this one (comma-separated)
    # lint: namespace=store-0a1b2c3d      release namespace (default: the chart name)
    # lint: release=store-0a1b2c3d        release name (default: the namespace)
    # lint: api-versions=monitoring.coreos.com/v1/ServiceMonitor
                                          CRD kinds the (fake) cluster serves for this value set,
                                          like `helm template --api-versions` (comma-separated);
                                          their objects are not schema-validated
    # lint: expect-error=storeId is required   (ci/invalid/*.yaml only: the install must fail
                                               with a message containing this text)

For every valid value set:
  1. helm lint (Go library, offline) on a copy of the chart whose values.yaml holds the
     effective values; any WARNING or ERROR fails the value set.
  2. A real `helm install` (Go library) into an in-process fake Kubernetes API (fakekube.py,
     loopback only; release records in memory): renders the chart with the real release name
     and namespace, honours `required`/`fail` and values.schema.json.
  3. Structural checks on the rendered objects (checks.py) and, for charts with a contract,
     the contract checks (store_contract.py, storeflow_contract.py). For charts/storeflow, when
     charts/ecommerce-store exists: the RBAC coverage and namespace-fence checks
     (rbac_coverage.py) against every ci value set of the store chart.
  4. Strict Kubernetes schema validation of every object (kubernetes-validate) for the oldest
     Kubernetes version the chart's kubeVersion allows and for the newest known one.
For every ci/invalid/*.yaml value set, the install must fail with the expected message.

Before the charts, a self-test plants defects -- the broken fixture charts in
charts/lint/fixtures/ and one-line mutations of copies of charts/ecommerce-store and
charts/storeflow, among them the RBAC coverage's negative cases (a store role missing a kind or a
verb; the store chart creating a kind the role lacks) (selftest.py) -- and fails unless every one
is caught, so the lint cannot pass silently.

Options: --chart NAME, --variant TEXT, --self-test (only the self-test), --no-self-test,
--dump DIR (rendered manifests and NOTES), --verbose (the Go library's log), --charts-dir DIR.
The last output line is "N passed, N failed"; the exit status is 1 if anything failed, 2 if the
lint could not run.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import copy
import os
import re
import shutil
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent.parent
sys.path.insert(0, str(HERE))


def _isolated_environment() -> None:
    """Re-execute this script with the environment helm must see.

    Helm's Go runtime takes the environment the *process started with* (a Go shared library
    reads the initial envp, not later os.environ changes), so HELM_DRIVER=memory -- release
    records in memory, never in the cluster -- and private helm config/cache directories must
    be in place before Python starts. No kubeconfig of the machine is used.
    """
    if os.environ.get("CHART_LINT_HELM_HOME") and os.environ.get("HELM_DRIVER") == "memory":
        return
    home = tempfile.mkdtemp(prefix="chart-lint-helm-")
    env = dict(os.environ, HELM_DRIVER="memory", CHART_LINT_HELM_HOME=home)
    for var in ("HELM_CACHE_HOME", "HELM_CONFIG_HOME", "HELM_DATA_HOME"):
        env[var] = os.path.join(home, var.lower())
    env.pop("KUBECONFIG", None)
    sys.stdout.flush()
    os.execve(sys.executable, [sys.executable, os.path.abspath(__file__), *sys.argv[1:]], env)


import yaml  # noqa: E402

import checks  # noqa: E402
from checks import Problem, Rendered  # noqa: E402
from fakekube import FakeKube  # noqa: E402
import rbac_coverage  # noqa: E402
import selftest  # noqa: E402
import store_contract  # noqa: E402
import storeflow_contract  # noqa: E402

CONTRACTS = {**store_contract.CONTRACTS, **storeflow_contract.CONTRACTS}
# The chart whose RBAC must cover what the store chart creates, and that store chart.
CONTROL_PLANE_CHART = "storeflow"
STORE_CHART = "ecommerce-store"

SEVERITY = {0: "UNKNOWN", 1: "INFO", 2: "WARNING", 3: "ERROR"}


# ---------------------------------------------------------------------------------------------
# YAML and values
# ---------------------------------------------------------------------------------------------
class _StrictLoader(yaml.SafeLoader):
    """SafeLoader that refuses duplicate mapping keys (helm and kubectl keep the last one silently)."""


def _construct_mapping(loader, node, deep=False):
    seen = set()
    for key_node, _ in node.value:
        key = loader.construct_object(key_node, deep=deep)
        if key in seen:
            raise yaml.constructor.ConstructorError(None, None, f"duplicate key {key!r}", key_node.start_mark)
        seen.add(key)
    return yaml.SafeLoader.construct_mapping(loader, node, deep)


_StrictLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping)


def load_yaml(path: Path) -> dict:
    data = yaml.load(path.read_text(), Loader=_StrictLoader)
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ValueError(f"{path}: a values file must be a mapping")
    return data


def merge_user(base: dict, override: dict) -> dict:
    """Several -f files: maps merge key by key, anything else is replaced (nulls are kept)."""
    out = copy.deepcopy(base)
    for key, value in override.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = merge_user(out[key], value)
        else:
            out[key] = copy.deepcopy(value)
    return out


def coalesce(defaults: dict, user: dict) -> dict:
    """Helm's coalescing of user values over chart defaults: a null removes the key."""
    out = copy.deepcopy(defaults)
    for key, value in user.items():
        if value is None:
            out.pop(key, None)
        elif isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = coalesce(out[key], value)
        else:
            out[key] = copy.deepcopy(value)
    return out


def parse_manifest(manifest: str) -> tuple[list[dict], dict[int, str]]:
    objects, sources = [], {}
    for chunk in re.split(r"^---\s*$", manifest, flags=re.M):
        if not chunk.strip():
            continue
        source = re.search(r"^# Source: (.+)$", chunk, flags=re.M)
        for doc in yaml.load_all(chunk, Loader=_StrictLoader):
            if doc is None:
                continue
            if not isinstance(doc, dict):
                raise ValueError(f"{source.group(1) if source else 'manifest'}: a document is not a mapping")
            objects.append(doc)
            sources[id(doc)] = source.group(1) if source else "?"
    return objects, sources


# ---------------------------------------------------------------------------------------------
# Value sets
# ---------------------------------------------------------------------------------------------
@dataclass
class Variant:
    chart_dir: Path
    label: str  # e.g. ci/woocommerce-local.yaml
    files: list[Path]  # values files in order (chart files named by `values=`, then the ci file)
    namespace: str
    release: str
    expect_error: str | None = None
    api_versions: tuple[str, ...] = ()

    @property
    def chart(self) -> str:
        return self.chart_dir.name


def directives(path: Path) -> dict[str, str]:
    found = {}
    for line in path.read_text().splitlines():
        if not line.startswith("#"):
            break
        m = re.match(r"^#\s*lint:\s*(.*)$", line)
        if not m:
            continue
        text = m.group(1).strip()
        if text.startswith("expect-error="):
            # expect-error takes the rest of its line, spaces included.
            found["expect-error"] = text.partition("=")[2].strip()
            continue
        for item in text.split():
            key, sep, value = item.partition("=")
            if not sep:
                raise ValueError(f"{path}: malformed lint directive {item!r} (want key=value)")
            found[key] = value
    unknown = set(found) - {"values", "namespace", "release", "expect-error", "api-versions"}
    if unknown:
        raise ValueError(f"{path}: unknown lint directive(s) {sorted(unknown)}")
    return found


def discover_variants(chart_dir: Path) -> list[Variant]:
    ci = chart_dir / "ci"
    variants = []
    files = sorted(ci.glob("*.yaml")) if ci.is_dir() else []
    invalid = sorted((ci / "invalid").glob("*.yaml")) if (ci / "invalid").is_dir() else []
    if not files and not invalid:
        return [Variant(chart_dir, "(chart defaults)", [], chart_dir.name, chart_dir.name)]
    for path in files + invalid:
        d = directives(path)
        base = [chart_dir / f for f in d.get("values", "").split(",") if f]
        for f in base:
            if not f.is_file():
                raise ValueError(f"{path}: values file {f.name} does not exist in {chart_dir}")
        namespace = d.get("namespace", chart_dir.name)
        expect = d.get("expect-error")
        is_invalid = path.parent.name == "invalid"
        if is_invalid and not expect:
            raise ValueError(f"{path}: a value set under ci/invalid/ needs '# lint: expect-error=<message>'")
        if expect and not is_invalid:
            raise ValueError(f"{path}: expect-error belongs under ci/invalid/")
        api_versions = tuple(a for a in d.get("api-versions", "").split(",") if a)
        for item in api_versions:
            if item.count("/") < 2:
                raise ValueError(f"{path}: api-versions entry {item!r} must be group/version/Kind")
        variants.append(Variant(chart_dir, str(path.relative_to(chart_dir)), base + [path], namespace,
                                d.get("release", namespace), expect, api_versions))
    return variants


def discover_charts(charts_dir: Path) -> list[Path]:
    return sorted(p for p in charts_dir.iterdir() if p.is_dir() and (p / "Chart.yaml").is_file())


# ---------------------------------------------------------------------------------------------
# helm (Go library)
# ---------------------------------------------------------------------------------------------
@contextlib.contextmanager
def captured_stderr(sink: list[str]):
    """Capture what the Go library writes to file descriptor 2 (its log lines)."""
    sys.stderr.flush()
    saved = os.dup(2)
    with tempfile.TemporaryFile(mode="w+b") as tmp:
        os.dup2(tmp.fileno(), 2)
        try:
            yield
        finally:
            os.dup2(saved, 2)
            os.close(saved)
            tmp.seek(0)
            sink.extend(line for line in tmp.read().decode("utf-8", "replace").splitlines() if line.strip())


class Helm:
    def __init__(self, workdir: Path):
        import helm_sdkpy

        self.sdk = helm_sdkpy
        self.workdir = workdir
        self.fake = FakeKube(workdir / "fakekube").start()
        self.log: list[str] = []
        # The store chart the control plane's RBAC is checked against (main() and the
        # self-test set it), and its rendered value sets, per chart directory.
        self.store_chart_dir: Path | None = None
        self._store_renders: dict[str, rbac_coverage.StoreRenders] = {}

    def close(self) -> None:
        self.fake.stop()

    def version(self) -> str:
        try:
            return f"helm-sdkpy {self.sdk.__version__}, helm {self.sdk.get_version()}"
        except Exception:  # version string is informative only
            return f"helm-sdkpy {self.sdk.__version__}"

    def store_renders(self, chart_dir: Path) -> "rbac_coverage.StoreRenders":
        """Every valid ci value set of a store chart, rendered once per chart directory."""
        key = str(chart_dir.resolve())
        if key not in self._store_renders:
            renders = rbac_coverage.StoreRenders(chart_dir.name)
            try:
                variants = discover_variants(chart_dir)
            except ValueError as err:
                renders.errors.append(str(err))
                variants = []
            for variant in variants:
                if variant.expect_error is not None:
                    continue
                try:
                    user: dict = {}
                    for f in variant.files:
                        user = merge_user(user, load_yaml(f))
                    release = self.render(chart_dir, variant.release, variant.namespace, user, variant.api_versions)
                    manifest = release.get("manifest") or ""
                    for hook in release.get("hooks") or []:
                        manifest += "\n---\n" + (hook.get("manifest") or "")
                    objects, _ = parse_manifest(manifest)
                except (self.sdk.HelmError, ValueError, yaml.YAMLError) as err:
                    renders.errors.append(f"{variant.label}: {' '.join(str(err).split())[:300]}")
                    continue
                renders.add(variant.label, objects)
            self._store_renders[key] = renders
        return self._store_renders[key]

    def lint(self, chart_path: Path, namespace: str) -> list[dict]:
        cfg = self.sdk.Configuration(namespace=namespace, kubeconfig=str(self.fake.kubeconfig))
        with captured_stderr(self.log):
            result = asyncio.run(self.sdk.Lint(cfg).run(str(chart_path)))
        return list(result.get("Messages") or [])

    def render(self, chart_path: Path, release: str, namespace: str, values: dict,
               api_versions: tuple[str, ...] = ()) -> dict:
        """Install into the fake API; returns helm's release (manifest, info.notes, hooks)."""
        self.fake.reset(api_versions)
        cfg = self.sdk.Configuration(namespace=namespace, kubeconfig=str(self.fake.kubeconfig))
        with captured_stderr(self.log):
            result = asyncio.run(self.sdk.Install(cfg).run(
                release, str(chart_path), values=values or None, wait=False, timeout=60))
        storage = [r for r in self.fake.requests if "/secrets" in r and "owner%3Dhelm" in r]
        if storage:
            raise self.sdk.HelmError("helm stored its release in the (fake) cluster: HELM_DRIVER=memory was not honoured")
        return result


# ---------------------------------------------------------------------------------------------
# One value set
# ---------------------------------------------------------------------------------------------
@dataclass
class Result:
    variant: Variant
    problems: list[Problem] = field(default_factory=list)
    summary: str = ""
    seconds: float = 0.0

    @property
    def ok(self) -> bool:
        return not self.problems


def min_kube_version(chart_dir: Path) -> str | None:
    spec = str(load_yaml(chart_dir / "Chart.yaml").get("kubeVersion") or "")
    m = re.search(r">=?\s*v?(\d+)\.(\d+)", spec)
    return f"{m.group(1)}.{m.group(2)}" if m else None


def lint_variant(helm: Helm, variant: Variant, scratch: Path, dump: Path | None = None) -> Result:
    started = time.monotonic()
    result = Result(variant)
    chart_dir = variant.chart_dir
    try:
        defaults = load_yaml(chart_dir / "values.yaml") if (chart_dir / "values.yaml").is_file() else {}
        user: dict = {}
        for f in variant.files:
            user = merge_user(user, load_yaml(f))
    except (ValueError, yaml.YAMLError) as err:
        result.problems.append(Problem("values", str(err)))
        return result
    effective = coalesce(defaults, user)

    if variant.expect_error is not None:
        try:
            helm.render(chart_dir, variant.release, variant.namespace, user, variant.api_versions)
        except helm.sdk.HelmError as err:
            message = " ".join(str(err).split())
            if variant.expect_error not in message:
                result.problems.append(Problem("expect-error", f"failed with {message!r}, expected a message containing {variant.expect_error!r}"))
            else:
                shown = message.split("): ", 1)[-1] if "): " in message else message.removeprefix("install failed: ")
                result.summary = f"refused as expected: {shown[:160]}"
        else:
            result.problems.append(Problem("expect-error", f"rendered, but must fail with {variant.expect_error!r}"))
        result.seconds = time.monotonic() - started
        return result

    # 1. helm lint on a copy whose values.yaml holds the effective values.
    copy_dir = scratch / chart_dir.name
    shutil.copytree(chart_dir, copy_dir, ignore=shutil.ignore_patterns("ci", "node_modules", ".git"))
    (copy_dir / "values.yaml").write_text(yaml.safe_dump(effective, sort_keys=False))
    counts = {1: 0, 2: 0, 3: 0}
    try:
        for msg in helm.lint(copy_dir, variant.namespace):
            sev = int(msg.get("Severity", 0))
            counts[sev] = counts.get(sev, 0) + 1
            if sev >= 2:
                detail = msg.get("Err")
                detail = f": {detail}" if isinstance(detail, str) and detail else " (helm-sdkpy does not pass the message text through; see the render step)"
                result.problems.append(Problem("helm-lint", f"{SEVERITY.get(sev, sev)} in {msg.get('Path')}{detail}"))
    except helm.sdk.HelmError as err:
        result.problems.append(Problem("helm-lint", str(err)))

    # 2. render through a real install into the fake API.
    try:
        release = helm.render(chart_dir, variant.release, variant.namespace, user, variant.api_versions)
    except helm.sdk.HelmError as err:
        result.problems.append(Problem("render", str(err)))
        result.seconds = time.monotonic() - started
        return result
    manifest = release.get("manifest") or ""
    for hook in release.get("hooks") or []:
        manifest += "\n---\n" + (hook.get("manifest") or "")
    if dump is not None:
        target = dump / variant.chart / (variant.label.replace("/", "_").removesuffix(".yaml") + ".rendered.yaml")
        target.parent.mkdir(parents=True, exist_ok=True)
        notes = ((release.get("info") or {}).get("notes")) or ""
        target.write_text(manifest + "\n# NOTES.txt:\n" + "".join(f"#   {line}\n" for line in notes.splitlines()))
    try:
        objects, sources = parse_manifest(manifest)
    except (ValueError, yaml.YAMLError) as err:
        result.problems.append(Problem("render", f"rendered YAML does not parse: {err}"))
        return result
    rendered = Rendered(
        chart=variant.chart, release=variant.release, namespace=variant.namespace, values=effective,
        default_values=defaults, objects=objects, sources=sources, manifest=manifest,
        notes=((release.get("info") or {}).get("notes")) or "",
        has_notes_template=(chart_dir / "templates" / "NOTES.txt").is_file(),
    )

    # 3. structural and contract checks, 4. Kubernetes schemas.
    for check in checks.GENERIC_CHECKS:
        result.problems.extend(check(rendered))
    contract = CONTRACTS.get(variant.chart)
    if contract:
        result.problems.extend(contract(rendered))
    coverage = ""
    if variant.chart == CONTROL_PLANE_CHART and helm.store_chart_dir is not None:
        store = helm.store_renders(helm.store_chart_dir)
        result.problems.extend(rbac_coverage.check(rendered, store))
        coverage = f"; RBAC and fence vs {store.chart} ({len(store.value_sets)} value sets, {len(store.kinds)} kinds)"
    versions = checks.schema_versions(min_kube_version(chart_dir))
    crd_kinds = {item.rsplit("/", 1)[1] for item in variant.api_versions}
    result.problems.extend(checks.check_schema(rendered, versions, skip_kinds=crd_kinds))

    kinds: dict[str, int] = {}
    for obj in objects:
        kinds[obj.get("kind")] = kinds.get(obj.get("kind"), 0) + 1
    result.summary = (
        f"lint {counts.get(3, 0)} error(s) {counts.get(2, 0)} warning(s) {counts.get(1, 0)} info; "
        f"{len(objects)} objects ({', '.join(f'{n} {k}' for k, n in sorted(kinds.items()))}); "
        f"{len(checks.GENERIC_CHECKS)} structural checks{' + contract' if contract else ''}{coverage}; "
        f"schemas k8s {', '.join(versions)}"
        + (f" (CRD kinds not schema-checked: {', '.join(sorted(crd_kinds))})" if crd_kinds else "")
    )
    result.seconds = time.monotonic() - started
    return result


def lint_chart(helm: Helm, chart_dir: Path, only: str | None, out, dump: Path | None = None) -> list[Result]:
    results = []
    try:
        variants = discover_variants(chart_dir)
    except ValueError as err:
        bad = Result(Variant(chart_dir, "ci/", [], chart_dir.name, chart_dir.name), [Problem("ci", str(err))])
        print(f"  FAIL  {chart_dir.name}: {err}", file=out)
        return [bad]
    for variant in variants:
        if only and only not in variant.label:
            continue
        with tempfile.TemporaryDirectory(prefix="chart-lint-", dir=helm.workdir) as scratch:
            try:
                result = lint_variant(helm, variant, Path(scratch), dump)
            except Exception as err:  # a bug in a check must fail the run, not hide the others
                import traceback

                where = traceback.extract_tb(err.__traceback__)[-1]
                result = Result(variant, [Problem("internal", f"{type(err).__name__}: {err} "
                                                  f"({Path(where.filename).name}:{where.lineno})")])
        results.append(result)
        base = " + ".join(f.name for f in variant.files[:-1])
        shown = f"{variant.label}" + (f" (on {base})" if base else "")
        print(f"  {'PASS' if result.ok else 'FAIL'}  {shown}  [{result.seconds:.1f}s]", file=out)
        if result.summary:
            print(f"        {result.summary}", file=out)
        for problem in result.problems:
            print(f"        - {problem}", file=out)
    return results


# ---------------------------------------------------------------------------------------------
# Self-test: planted defects must be caught (see selftest.py).
# ---------------------------------------------------------------------------------------------
def _caught(result: Result | None, wanted) -> tuple[bool, str]:
    if result is None:
        return False, "value set not found"
    found = {p.check for p in result.problems}
    missing = [c for c in wanted if c not in found]
    if result.ok or missing:
        return False, f"not caught: {', '.join(missing) or 'everything passed'}"
    return True, f"caught by {', '.join(wanted)} ({len(result.problems)} problems)"


def self_test(helm: Helm, charts_dir: Path, out) -> tuple[int, int]:
    """Returns (caught, missed) over every planted defect."""
    tally = [0, 0]

    def record(good: bool, line: str) -> None:
        tally[0 if good else 1] += 1
        print(f"  {'PASS' if good else 'FAIL'}  {line}", file=out)
    print("self-test: planted defects must be caught", file=out)
    with open(os.devnull, "w") as sink:
        for fixture, expectations in selftest.FIXTURES.items():
            results = {r.variant.label: r for r in lint_chart(helm, HERE / "fixtures" / fixture, None, sink)}
            for label, wanted in expectations.items():
                good, why = _caught(results.get(label), wanted)
                record(good, f"fixtures/{fixture}/{label}: {why}")
        store = charts_dir / STORE_CHART
        skipped: set[tuple[str, str]] = set()
        saved_store_dir = helm.store_chart_dir
        for mutation in selftest.MUTATIONS:
            # The mutated chart, and the chart whose value set must now fail (the same one, or
            # charts/storeflow when a store-chart change must trip its RBAC coverage).
            source = charts_dir / mutation.chart
            linted = mutation.linted or mutation.chart
            missing = [c for c in {mutation.chart, linted} | ({STORE_CHART} if linted == CONTROL_PLANE_CHART else set())
                       if not (charts_dir / c).is_dir()]
            if missing:
                if (mutation.chart, linted) not in skipped:
                    skipped.add((mutation.chart, linted))
                    print(f"  SKIP  mutations of {mutation.chart} (linting {linted}): {', '.join(missing)} not found", file=out)
                continue
            with tempfile.TemporaryDirectory(prefix="chart-lint-mutant-", dir=helm.workdir) as tmp:
                mutant = Path(tmp) / mutation.chart
                shutil.copytree(source, mutant, ignore=shutil.ignore_patterns("node_modules", ".git"))
                target = mutant / mutation.file
                text = target.read_text() if target.is_file() else ""
                if text.count(mutation.old) != 1:
                    record(False, f"mutation '{mutation.name}': its text occurs {text.count(mutation.old)} times in "
                                  f"{mutation.chart}/{mutation.file}; update selftest.py")
                    continue
                target.write_text(text.replace(mutation.old, mutation.new))
                if linted == mutation.chart:
                    helm.store_chart_dir = store
                    chart_to_lint = mutant
                else:
                    helm.store_chart_dir = mutant
                    chart_to_lint = charts_dir / linted
                try:
                    results = {r.variant.label: r for r in lint_chart(helm, chart_to_lint, mutation.value_set, sink)}
                finally:
                    helm.store_chart_dir = saved_store_dir
                good, why = _caught(results.get(mutation.value_set), mutation.expect)
                record(good, f"mutation '{mutation.name}': {why}")
    return tally[0], tally[1]


# ---------------------------------------------------------------------------------------------
def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--charts-dir", type=Path, default=REPO / "charts", help="directory holding the charts (default: charts/)")
    parser.add_argument("--chart", action="append", help="lint only this chart (repeatable)")
    parser.add_argument("--variant", help="lint only value sets whose path contains this text")
    group = parser.add_mutually_exclusive_group()
    group.add_argument("--self-test", action="store_true", help="run only the self-test on the broken fixtures")
    group.add_argument("--no-self-test", action="store_true", help="skip the self-test")
    parser.add_argument("--verbose", action="store_true", help="also print what the Go library logged")
    parser.add_argument("--dump", type=Path, help="write each value set's rendered manifest and NOTES into this directory")
    args = parser.parse_args(argv)
    out = sys.stdout

    workdir = Path(tempfile.mkdtemp(prefix="chart-lint-"))
    try:
        try:
            helm = Helm(workdir)
        except Exception as err:  # the library or its native part is missing
            print(f"cannot load helm-sdkpy: {err}\n  pip install --ignore-requires-python -r charts/lint/requirements.txt", file=out)
            return 2
        print(f"chart lint with {helm.version()}", file=out)
        store_chart = args.charts_dir / STORE_CHART
        helm.store_chart_dir = store_chart if (store_chart / "Chart.yaml").is_file() else None
        if helm.store_chart_dir is None and (args.charts_dir / CONTROL_PLANE_CHART / "Chart.yaml").is_file():
            print(f"note: {STORE_CHART} not found: the RBAC of {CONTROL_PLANE_CHART} is not checked against it", file=out)
        passed = failed = 0
        if not args.no_self_test:
            caught, missed = self_test(helm, args.charts_dir, out)
            passed, failed = passed + caught, failed + missed
            if missed:
                print("self-test FAILED: the linter let a planted defect pass", file=out)
        if not args.self_test:
            charts = discover_charts(args.charts_dir)
            if args.chart:
                charts = [c for c in charts if c.name in args.chart]
                missing = set(args.chart) - {c.name for c in charts}
                if missing:
                    print(f"no such chart: {', '.join(sorted(missing))}", file=out)
                    return 2
            if not charts:
                print(f"no chart (a directory with Chart.yaml) under {args.charts_dir}", file=out)
                return 2
            for chart_dir in charts:
                print(f"\n{chart_dir.name} ({chart_dir.relative_to(args.charts_dir.parent) if args.charts_dir.parent in chart_dir.parents else chart_dir})", file=out)
                for result in lint_chart(helm, chart_dir, args.variant, out, args.dump):
                    if result.ok:
                        passed += 1
                    else:
                        failed += 1
        if args.verbose and helm.log:
            print("\nGo library log:", file=out)
            for line in helm.log:
                print(f"  {line}", file=out)
        helm.close()
        print(f"\n{passed} passed, {failed} failed", file=out)
        return 1 if failed else 0
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
        if os.environ.get("CHART_LINT_HELM_HOME", "").startswith(tempfile.gettempdir()):
            shutil.rmtree(os.environ["CHART_LINT_HELM_HOME"], ignore_errors=True)


if __name__ == "__main__":
    _isolated_environment()
    sys.exit(main())
