"""The lock files every install reads (scripts/bootstrap, the Dockerfile, CI through scripts/test).

What a stale or hand-edited lock would break: a dependency added to pyproject.toml but not
locked fails the hash-checked install; a release outside pyproject.toml's range installs what
the package says it does not support; a runtime pin that differs from the test pin means the
tests ran against other releases than the service runs with.
"""
from __future__ import annotations

import re
import tomllib
from pathlib import Path

import pytest
from packaging.requirements import Requirement

ROOT = Path(__file__).resolve().parent.parent
LOCKS = ROOT / "requirements"
PIN = re.compile(r"^([A-Za-z0-9._-]+)==([^ ;\\]+)")


def _name(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def pins(lock: str) -> dict[str, str]:
    """name → version of every requirement in a lock, each checked to carry at least one hash."""
    found: dict[str, str] = {}
    lines = (LOCKS / lock).read_text(encoding="utf-8").splitlines()
    for i, line in enumerate(lines):
        match = PIN.match(line)
        if match:
            assert lines[i + 1].strip().startswith("--hash=sha256:"), f"{lock}: {line} has no hash"
            found[_name(match[1])] = match[2]
    return found


def project() -> dict:
    return tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]


@pytest.mark.parametrize(("lock", "groups"), [("runtime.lock", ()), ("test.lock", ("test",))])
def test_every_declared_dependency_is_locked_within_its_range(lock: str, groups: tuple[str, ...]) -> None:
    locked = pins(lock)
    declared = list(project()["dependencies"])
    for group in groups:
        declared += project()["optional-dependencies"][group]
    for spec in declared:
        requirement = Requirement(spec)
        name = _name(requirement.name)
        assert name in locked, f"{requirement.name} is in pyproject.toml but not in {lock}: run scripts/lock"
        assert requirement.specifier.contains(locked[name], prereleases=True), \
            f"{lock} pins {name}=={locked[name]}, outside pyproject.toml's {requirement.specifier}: run scripts/lock"


def test_tests_run_against_the_releases_the_service_runs_with() -> None:
    runtime, test = pins("runtime.lock"), pins("test.lock")
    differing = {name: (version, test.get(name)) for name, version in runtime.items() if test.get(name) != version}
    assert not differing, f"runtime.lock and test.lock disagree: {differing}"


def test_the_lock_tool_is_pinned_and_locked() -> None:
    wanted = [line for line in (LOCKS / "tools.in").read_text(encoding="utf-8").splitlines()
              if line and not line.startswith("#")]
    assert wanted and all("==" in line for line in wanted)
    locked = pins("tools.lock")
    for line in wanted:
        name, version = line.split("==")
        assert locked.get(_name(name)) == version


def test_every_install_path_reads_a_lock_with_hashes() -> None:
    dockerfile = (ROOT / "Dockerfile").read_text(encoding="utf-8")
    assert "pip install --require-hashes -r requirements/runtime.lock" in dockerfile
    assert "pip install --no-deps --editable ." in dockerfile
    bootstrap = (ROOT / "scripts" / "bootstrap").read_text(encoding="utf-8")
    assert 'pip install --quiet --require-hashes -r "$lock"' in bootstrap
    assert "lock=$root/requirements/$extras.lock" in bootstrap
    assert "scripts/bootstrap --test" in (ROOT / "scripts" / "test").read_text(encoding="utf-8")


def test_everything_the_service_imports_is_in_the_runtime_lock() -> None:
    """The Docker image installs only runtime.lock: a library imported by docsvc, workers or storage but
    locked only for the tests would be missing in production (pypdf was, for destruction)."""
    import ast
    import sys
    from importlib.metadata import packages_distributions

    first_party = {"docsvc", "workers", "storage"}
    imported: set[str] = set()
    for package in first_party:
        for path in (ROOT / package).rglob("*.py"):
            for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
                if isinstance(node, ast.Import):
                    imported |= {alias.name.split(".")[0] for alias in node.names}
                elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                    imported.add(node.module.split(".")[0])
    runtime = pins("runtime.lock")
    distributions = packages_distributions()
    missing = {module for module in imported - first_party - set(sys.stdlib_module_names)
               if not any(_name(d) in runtime for d in distributions.get(module, []))}
    assert missing == set(), f"imported by the service but not in requirements/runtime.lock: {sorted(missing)}"
