"""The ways docsvc is started: the README's two commands, CI, and the compose full stack.

There is no Docker engine here, so the compose file is checked the way compose itself reads it
(`config` resolves anchors, interpolation and defaults) and then by what it must promise.
"""
from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

pytestmark = pytest.mark.integration   # docker compose, bash and bootstrap run as processes

ROOT = Path(__file__).resolve().parent.parent
APP_SERVICES = ("web", "worker", "indexer", "scheduler")
SECRETS = ("POSTGRES_PASSWORD", "MINIO_ROOT_PASSWORD", "DOCSVC_SECRET_KEY")
# what a fresh Debian machine lacks, hidden from bootstrap by leaving them off PATH
HIDDEN_COMMANDS = {"tesseract", "chromium", "chromium-browser", "docker", "docker-compose", "apt-get", "sudo"}


def compose_command() -> list[str] | None:
    if shutil.which("docker"):
        probe = subprocess.run(["docker", "compose", "version"], capture_output=True)
        if probe.returncode == 0:
            return ["docker", "compose"]
    if shutil.which("docker-compose"):
        return ["docker-compose"]
    return None


def run_compose_config(env_file: Path, extra_env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    command = compose_command()
    if command is None:
        pytest.skip("neither `docker compose` nor `docker-compose` is installed (scripts/test installs it)")
    # a clean environment, so secrets exported in the caller's shell cannot hide a missing one
    env = {"PATH": os.environ["PATH"], "HOME": os.environ.get("HOME", "/tmp"), **(extra_env or {})}
    return subprocess.run(
        [*command, "--env-file", str(env_file), "config"],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=60,
    )


@pytest.fixture(scope="module")
def compose() -> dict:
    result = run_compose_config(ROOT / ".env.example")
    assert result.returncode == 0, result.stderr
    return yaml.safe_load(result.stdout)


def volume_sources(service: dict) -> set[str]:
    """Named volumes a service mounts, in either the short (v1) or long (v2) form `config` prints."""
    sources = set()
    for volume in service.get("volumes", []):
        if isinstance(volume, str):
            sources.add(volume.split(":", 1)[0])
        elif volume.get("type", "volume") == "volume":
            sources.add(volume["source"])
    return sources


def command_words(service: dict) -> list[str]:
    command = service.get("command", [])
    return command.split() if isinstance(command, str) else command


def test_compose_defines_the_full_stack(compose: dict) -> None:
    assert {"postgres", "redis", "minio", *APP_SERVICES} <= set(compose["services"])
    assert compose["services"]["postgres"]["image"].startswith("postgres:16")
    assert compose["services"]["redis"]["image"].startswith("redis:7")
    assert "--console-address" in command_words(compose["services"]["minio"])


def test_app_services_share_one_image_built_from_the_dockerfile(compose: dict) -> None:
    images = {compose["services"][name]["image"] for name in APP_SERVICES}
    assert len(images) == 1
    for name in APP_SERVICES:
        assert Path(compose["services"][name]["build"]["context"]).resolve() == ROOT


def test_worker_can_be_scaled(compose: dict) -> None:
    worker = compose["services"]["worker"]
    assert "container_name" not in worker
    assert not worker.get("ports")
    assert command_words(worker)[-4:] == ["worker", "ingest", "ocr", "operations"]


def test_exactly_one_service_writes_the_search_index(compose: dict) -> None:
    index_writers = [
        name for name, service in compose["services"].items()
        if "worker" in command_words(service) and "index" in command_words(service)
    ]
    assert index_writers == ["indexer"]
    assert compose["services"]["indexer"].get("deploy", {}).get("replicas", 1) == 1
    # web reads the index the indexer writes, so both mount the same volume
    assert volume_sources(compose["services"]["web"]) & volume_sources(compose["services"]["indexer"])


def test_web_migrates_then_serves_with_gunicorn(compose: dict) -> None:
    script = " ".join(command_words(compose["services"]["web"]))
    assert script.index("docsvc db upgrade") < script.index("gunicorn")
    assert "docsvc.wsgi:app" in script
    assert "0.0.0.0:8000" in script


def test_web_logs_each_request_and_adds_up_its_workers_metrics(compose: dict) -> None:
    web = compose["services"]["web"]
    script = " ".join(command_words(web))
    gunicorn = script[script.index("gunicorn"):].split()
    assert gunicorn[gunicorn.index("--access-logfile") + 1] == "-"  # the access log, on stdout
    assert gunicorn[gunicorn.index("--config") + 1] == "python:docsvc.gunicorn_conf"
    # prometheus_client's multiprocess mode: a directory that exists before gunicorn (and the CLI) start
    directory = web["environment"]["PROMETHEUS_MULTIPROC_DIR"]
    assert directory and script.index("mkdir -p") < script.index("docsvc db upgrade")


def test_job_services_serve_their_metrics_and_every_service_logs_in_one_format(compose: dict) -> None:
    for name in ("worker", "indexer"):
        assert compose["services"][name]["environment"]["DOCSVC_WORKER_METRICS_PORT"] == "9100"
    for name in APP_SERVICES:
        assert compose["services"][name]["environment"]["DOCSVC_LOG_FORMAT"] == "text"


def test_every_service_has_a_healthcheck(compose: dict) -> None:
    for name, service in compose["services"].items():
        test = service.get("healthcheck", {}).get("test")
        assert test and test[0] in ("CMD", "CMD-SHELL"), f"{name} has no healthcheck"
    assert "/healthz" in " ".join(compose["services"]["web"]["healthcheck"]["test"])
    assert "pg_isready" in compose["services"]["postgres"]["healthcheck"]["test"]


def test_services_wait_for_healthy_dependencies(compose: dict) -> None:
    for name in APP_SERVICES:
        depends_on = compose["services"][name]["depends_on"]
        assert {"postgres", "redis", "minio"} <= set(depends_on), name
        assert all(dependency["condition"] == "service_healthy" for dependency in depends_on.values()), name


def test_state_lives_in_named_volumes(compose: dict) -> None:
    declared = set(compose["volumes"])
    for name in ("postgres", "redis", "minio", "indexer"):
        mounted = volume_sources(compose["services"][name])
        assert mounted and mounted <= declared, f"{name} keeps its data outside a named volume"


def test_app_services_get_their_configuration_from_the_environment(compose: dict) -> None:
    environment = compose["services"]["worker"]["environment"]
    assert environment["DOCSVC_DATABASE_URL"].startswith("postgresql+psycopg://")
    assert environment["DOCSVC_S3_ENDPOINT"] == "minio:9000"
    for variable in ("DOCSVC_REDIS_URL", "DOCSVC_S3_ACCESS_KEY", "DOCSVC_S3_SECRET_KEY",
                     "DOCSVC_S3_BUCKET", "DOCSVC_SECRET_KEY", "DOCSVC_OCR_ENGINE"):
        assert environment.get(variable), variable


def test_compose_refuses_to_start_without_secrets(tmp_path: Path) -> None:
    empty = tmp_path / "empty.env"
    empty.write_text("")
    result = run_compose_config(empty)
    assert result.returncode != 0
    assert any(secret in result.stderr for secret in SECRETS)


def test_compose_file_holds_no_secrets() -> None:
    text = (ROOT / "docker-compose.yml").read_text(encoding="utf-8")
    for secret in SECRETS:
        assert f"${{{secret}:?" in text, f"{secret} must come from .env or the environment"
    assert ".env" in (ROOT / ".dockerignore").read_text(encoding="utf-8").split()


def test_dockerfile_installs_tesseract_with_chinese_and_runs_unprivileged() -> None:
    dockerfile = (ROOT / "Dockerfile").read_text(encoding="utf-8")
    assert dockerfile.startswith("#") and "FROM python:3.11-slim-bookworm" in dockerfile
    for package in ("tesseract-ocr", "tesseract-ocr-chi-sim", "fonts-wqy-zenhei"):
        assert package in dockerfile.split(), package
    users = [line.split()[1] for line in dockerfile.splitlines() if line.startswith("USER ")]
    assert users and users[-1] not in ("root", "0")
    assert "HEALTHCHECK" in dockerfile


def test_ci_runs_exactly_the_readme_test_command() -> None:
    ci = ROOT / ".ci" / "run"
    assert os.access(ci, os.X_OK)
    commands = [
        line.strip() for line in ci.read_text(encoding="utf-8").splitlines()[1:]
        if line.strip() and not line.lstrip().startswith("#")
    ]
    assert commands[0] == "set -euo pipefail"
    assert commands[-1] == "./scripts/test"
    assert all(c.startswith(("set ", "cd ")) for c in commands[:-1])


def test_readme_gives_the_run_and_test_commands() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert "./scripts/run" in readme
    assert "./scripts/test" in readme


@pytest.mark.parametrize("script", ["scripts/bootstrap", "scripts/run", "scripts/test", ".ci/run"])
def test_scripts_are_executable_bash(script: str) -> None:
    path = ROOT / script
    assert os.access(path, os.X_OK)
    assert subprocess.run(["bash", "-n", str(path)], capture_output=True).returncode == 0


@pytest.fixture
def bare_path(tmp_path: Path) -> str:
    """A PATH with the system's commands except those a fresh Debian machine lacks."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for directory in ("/usr/local/bin", "/usr/bin", "/usr/sbin", "/bin", "/sbin"):
        if not os.path.isdir(directory):
            continue
        for entry in os.scandir(directory):
            target = bin_dir / entry.name
            if entry.name not in HIDDEN_COMMANDS and not target.exists():
                target.symlink_to(entry.path)
    return str(bin_dir)


def run_bootstrap(path: str, *args: str) -> subprocess.CompletedProcess[str]:
    env = {"PATH": path, "HOME": os.environ.get("HOME", "/tmp"), "LANG": "C.UTF-8"}
    return subprocess.run(
        [str(ROOT / "scripts" / "bootstrap"), *args],
        env=env, capture_output=True, text=True, timeout=60,
    )


def test_bootstrap_check_names_what_a_fresh_machine_must_install(bare_path: str) -> None:
    result = run_bootstrap(bare_path, "--check", "--test")
    assert result.returncode == 1, result.stderr
    wanted = next(line for line in result.stdout.splitlines() if "would install (apt-get):" in line)
    for package in ("tesseract-ocr", "tesseract-ocr-chi-sim", "tesseract-ocr-osd", "chromium", "docker-compose"):
        assert package in wanted.split(), package


def test_bootstrap_without_apt_names_the_packages_and_fails(bare_path: str) -> None:
    result = run_bootstrap(bare_path, "--test")
    assert result.returncode != 0
    assert "apt-get" in result.stderr
    assert "tesseract-ocr-chi-sim" in result.stderr
    assert "docker-compose" in result.stderr
