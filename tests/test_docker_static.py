"""Static checks of docker/: no Docker engine needed. The compose file, Dagster instance and
workspace files are parsed; each Dockerfile is linted with a small hadolint-like rule set."""

from __future__ import annotations

import re
import shlex
import subprocess
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
DOCKER = ROOT / "docker"
DOCKERFILES = ["Dockerfile", "Dockerfile.dagster"]
SECRET_NAME = re.compile(r"(PASSWORD|SECRET|SECRET_KEY|TOKEN|API_KEY|PRIVATE_KEY|CREDENTIALS?)$", re.IGNORECASE)
INTERPOLATION = re.compile(r"^\$\{[A-Z_][A-Z0-9_]*(:?[-?][^}]*)?\}$")
VERSION_ARGS = {"DAGSTER_VERSION": "1.13.", "DAGSTER_LIBS_VERSION": "0.29."}


# --------------------------------------------------------------------------- Dockerfile lint


@dataclass(frozen=True)
class Instruction:
    line: int
    keyword: str
    args: str


def parse_dockerfile(text: str) -> list[Instruction]:
    """Instructions with continuation lines joined; comments and blank lines dropped."""
    out: list[Instruction] = []
    buf, start = "", 0
    for n, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        if not buf and (not line or line.startswith("#")):
            continue
        if buf and line.startswith("#"):
            continue
        if not buf:
            start = n
        if line.endswith("\\"):
            buf += line[:-1] + " "
            continue
        buf += line
        keyword, _, args = buf.partition(" ")
        out.append(Instruction(start, keyword.upper(), args.strip()))
        buf = ""
    assert not buf, "dangling line continuation"
    return out


def lint(text: str) -> list[str]:
    """A small rule set in the spirit of hadolint (DL3006/3007, DL3002, DL3020, DL3009,
    DL3015, DL3042, DL3025) plus: no secrets in ENV/ARG."""
    problems: list[str] = []
    ins = parse_dockerfile(text)
    stages: set[str] = set()
    args = {}
    froms = [i for i in ins if i.keyword == "FROM"]
    if not froms:
        problems.append("no FROM")
    for i in ins:
        where = f"line {i.line}"
        if i.keyword == "ARG":
            name, _, default = i.args.partition("=")
            args[name] = default
            if SECRET_NAME.search(name):
                problems.append(f"{where}: ARG {name} looks like a secret (build args end up in the image history)")
        elif i.keyword == "FROM":
            parts = [p for p in i.args.split() if not p.startswith("--")]
            image = parts[0]
            if len(parts) >= 3 and parts[1].upper() == "AS":
                stages.add(parts[2].lower())
            if image.lower() in stages:
                continue
            if "$" in image:
                problems.append(f"{where}: FROM {image} is not a literal image reference")
                continue
            name_part = image.split("@")[0]
            tag = name_part.rsplit(":", 1)[1] if ":" in name_part.rsplit("/", 1)[-1] else None
            if "@sha256:" not in image and not tag:
                problems.append(f"{where}: FROM {image} has no tag (DL3006)")
            if tag == "latest":
                problems.append(f"{where}: FROM {image} uses latest (DL3007)")
        elif i.keyword == "ADD":
            if re.search(r"https?://", i.args):
                problems.append(f"{where}: ADD of a URL; download with curl in RUN or COPY a file (DL3020)")
            else:
                problems.append(f"{where}: use COPY instead of ADD for files (DL3020)")
        elif i.keyword == "RUN":
            cmd = i.args
            if re.search(r"\bapt-get\s+(-\S+\s+)*install\b", cmd):
                if "rm -rf /var/lib/apt/lists" not in cmd:
                    problems.append(f"{where}: apt lists not removed in the same RUN (DL3009)")
                if "--no-install-recommends" not in cmd:
                    problems.append(f"{where}: apt-get install without --no-install-recommends (DL3015)")
                if not re.search(r"apt-get\s+(-\S+\s+)*install\s+(.*\s)?-y\b|apt-get\s+-y", cmd):
                    problems.append(f"{where}: apt-get install without -y")
                if "apt-get update" not in cmd:
                    problems.append(f"{where}: apt-get install without apt-get update in the same RUN")
            if re.search(r"\bapt\s+install\b", cmd):
                problems.append(f"{where}: use apt-get, not apt (DL3027)")
            if re.search(r"\bpip3?\s+install\b", cmd) and "--no-cache-dir" not in cmd:
                env = " ".join(x.args for x in ins if x.keyword == "ENV")
                if "PIP_NO_CACHE_DIR" not in env:
                    problems.append(f"{where}: pip install without --no-cache-dir (DL3042)")
            if re.search(r"\bsudo\b", cmd):
                problems.append(f"{where}: sudo in RUN (DL3004)")
        elif i.keyword == "ENV":
            for name in re.findall(r"([A-Za-z_][A-Za-z0-9_]*)=", i.args):
                if SECRET_NAME.search(name):
                    problems.append(f"{where}: ENV {name} bakes a secret into the image")
        elif i.keyword in ("CMD", "ENTRYPOINT"):
            if not i.args.startswith("["):
                problems.append(f"{where}: {i.keyword} in shell form; use the JSON exec form (DL3025)")
    users = [i for i in ins if i.keyword == "USER"]
    if not users:
        problems.append("no USER: the container would run as root (DL3002)")
    elif users[-1].args.split(":")[0] in ("root", "0"):
        problems.append(f"line {users[-1].line}: last USER is root (DL3002)")
    return problems


@pytest.mark.parametrize("name", DOCKERFILES)
def test_dockerfile_lint(name):
    assert lint((DOCKER / name).read_text(encoding="utf-8")) == []


def test_the_linter_catches_what_it_should():
    bad = """FROM python
FROM debian:latest
ADD https://example.com/x.tgz /x
ARG STRIPE_API_KEY=sk_live_123
ENV SENDGRID_API_KEY=SG.abc
RUN apt-get update && apt-get install curl
RUN pip install requests
CMD python app.py
"""
    problems = "\n".join(lint(bad))
    for code in ("DL3006", "DL3007", "DL3020", "DL3009", "DL3015", "DL3042", "DL3025", "DL3002", "secret"):
        assert code in problems, code
    assert lint("FROM python:3.11-slim AS build\nFROM build\nUSER 0\n") == ["line 3: last USER is root (DL3002)"]


def test_user_code_image():
    ins = parse_dockerfile((DOCKER / "Dockerfile").read_text(encoding="utf-8"))
    assert ins[0].keyword == "FROM" and ins[0].args.startswith("python:3.11-slim")
    runs = " ".join(i.args for i in ins if i.keyword == "RUN")
    assert re.search(r"pip install (--no-cache-dir )?\.", runs)
    cmd = next(i for i in reversed(ins) if i.keyword == "CMD")
    argv = yaml.safe_load(cmd.args)
    assert argv[:3] == ["dagster", "code-server", "start"]
    assert argv[argv.index("-h") + 1] == "0.0.0.0" and argv[argv.index("-p") + 1] == "4000"
    assert argv[argv.index("-m") + 1] == "orchestration.definitions"
    # every COPY source exists in the build context (the repository root)
    for i in ins:
        if i.keyword == "COPY" and "--from" not in i.args:
            *sources, _ = shlex.split(i.args)
            for s in sources:
                assert (ROOT / s).exists(), f"COPY source {s} missing"
    assert (ROOT / "orchestration" / "definitions.py").exists()


@pytest.mark.parametrize("name", DOCKERFILES)
def test_dagster_versions_pinned_and_consistent(name):
    ins = parse_dockerfile((DOCKER / name).read_text(encoding="utf-8"))
    args = dict(i.args.split("=", 1) for i in ins if i.keyword == "ARG" and "=" in i.args)
    for arg, prefix in VERSION_ARGS.items():
        assert args[arg].startswith(prefix), (name, arg, args.get(arg))  # pyproject: dagster 1.13.x, libs 0.29.x
    compose = yaml.safe_load((DOCKER / "docker-compose.yml").read_text(encoding="utf-8"))
    assert compose["services"]["webserver"]["image"].endswith(":" + args["DAGSTER_VERSION"])


def test_entrypoint_is_valid_sh():
    script = DOCKER / "entrypoint.sh"
    assert script.read_text(encoding="utf-8").startswith("#!/bin/sh")
    subprocess.run(["sh", "-n", str(script)], check=True)


# --------------------------------------------------------------------------- compose


@pytest.fixture(scope="module")
def compose() -> dict:
    return yaml.safe_load((DOCKER / "docker-compose.yml").read_text(encoding="utf-8"))


def test_services(compose):
    services = compose["services"]
    assert set(services) == {"postgres", "migrate", "user_code", "web", "webserver", "daemon"}
    assert services["postgres"]["image"] == "postgres:18"
    for name, svc in services.items():
        image = svc.get("image", "")
        assert not image.endswith(":latest"), name
        assert "build" in svc or ":" in image, name
    assert services["migrate"]["build"]["dockerfile"] == "docker/Dockerfile"
    assert services["webserver"]["build"]["dockerfile"] == "docker/Dockerfile.dagster"
    # one build of each image; the other services run the same tag
    assert services["user_code"]["image"] == services["web"]["image"] == services["migrate"]["image"]
    assert services["daemon"]["image"] == services["webserver"]["image"]
    assert services["daemon"]["command"][:2] == ["dagster-daemon", "run"]
    assert services["webserver"]["command"][0] == "dagster-webserver"
    assert "3000:3000" in services["webserver"]["ports"]
    # postgres 18 keeps PGDATA under /var/lib/postgresql/18/docker: the volume must be the parent
    assert any(v.endswith(":/var/lib/postgresql") for v in services["postgres"]["volumes"])


def test_migrations_run_once_before_the_code_not_in_it(compose):
    """`vigil migrate` is its own one-shot service; the image's entrypoint, which also starts
    every Kubernetes run pod, no longer migrates."""
    services = compose["services"]
    assert services["migrate"]["command"] == ["vigil", "migrate"]
    assert services["migrate"]["restart"] == "no"
    for name in ("user_code", "web"):
        assert services[name]["depends_on"]["migrate"]["condition"] == "service_completed_successfully", name
    script = (DOCKER / "entrypoint.sh").read_text(encoding="utf-8")
    code = [line for line in script.splitlines() if line.strip() and not line.lstrip().startswith("#")]
    assert not any("migrate" in line or "prepare" in line for line in code), code
    assert code[-1].strip() == 'exec "$@"'


def test_web_application_service(compose):
    web = compose["services"]["web"]
    argv = web["command"]
    assert argv[:2] == ["vigil", "serve"] and argv[argv.index("--host") + 1] == "0.0.0.0"
    port = argv[argv.index("--port") + 1]
    assert f"{port}:{port}" in web["ports"] and "--behind-proxy" in argv
    assert "/healthz" in " ".join(web["healthcheck"]["test"]) and port in " ".join(web["healthcheck"]["test"])
    assert any(v.startswith("vigil_home:") for v in web["volumes"])  # the invoice PDFs the portal serves
    env = _env(web)
    assert env["VIGIL_SECRET_KEY"] == _env(compose["services"]["user_code"])["VIGIL_SECRET_KEY"]


def test_inbox_volume_and_vendor_variables(compose):
    from orchestration.defs.sources.resources import ENV_VARS

    user_code = compose["services"]["user_code"]
    env = _env(user_code)
    assert any(v == f"vigil_inbox:{env['VIGIL_INBOX']}" for v in user_code["volumes"])
    assert "vigil_inbox" in compose["volumes"]
    vendor_variables = {name for fields in ENV_VARS.values() for name in fields.values()}
    assert vendor_variables <= set(env), sorted(vendor_variables - set(env))
    for name in vendor_variables:
        assert env[name] == "${" + name + ":-}", name  # optional, from the environment, no default


def test_compose_references_resolve(compose):
    """What `docker compose config` would refuse: unknown services in depends_on, named volumes
    not declared, and variables without a value or a required-marker."""
    services = compose["services"]
    for name, svc in services.items():
        for dep in svc.get("depends_on", {}):
            assert dep in services, (name, dep)
        for volume in svc.get("volumes", []):
            source = volume.split(":")[0]
            if not source.startswith((".", "/")):
                assert source in compose["volumes"], (name, source)
    text = (DOCKER / "docker-compose.yml").read_text(encoding="utf-8")
    for match in re.finditer(r"(?<!\$)\$\{([^}]*)\}", text):
        assert re.fullmatch(r"[A-Z_][A-Z0-9_]*(:-[^}]*|:\?[^}]+)?", match.group(1)), match.group(0)
    required = set(re.findall(r"\$\{([A-Z_][A-Z0-9_]*):\?", text))
    assert required == {"POSTGRES_PASSWORD", "VIGIL_SECRET_KEY"}


def test_postgres_healthcheck_and_databases(compose):
    pg = compose["services"]["postgres"]
    test = pg["healthcheck"]["test"]
    assert test[0] in ("CMD", "CMD-SHELL") and "pg_isready" in " ".join(test)
    assert {"interval", "timeout", "retries"} <= set(pg["healthcheck"])
    assert pg["environment"]["POSTGRES_DB"] == "vigil"
    init = [v for v in pg["volumes"] if "docker-entrypoint-initdb.d" in v]
    assert init and init[0].split(":")[0] == "./init-db.sql"
    sql = (DOCKER / "init-db.sql").read_text(encoding="utf-8")
    assert "CREATE DATABASE vigil_dagster" in sql and "CREATE DATABASE vigil'" in sql


def test_depends_on_conditions(compose):
    services = compose["services"]
    expected = {
        "migrate": {"postgres": "service_healthy"},
        "user_code": {"postgres": "service_healthy", "migrate": "service_completed_successfully"},
        "web": {"postgres": "service_healthy", "migrate": "service_completed_successfully"},
        "webserver": {"postgres": "service_healthy", "user_code": "service_healthy"},
        "daemon": {"postgres": "service_healthy", "user_code": "service_healthy"},
    }
    for name, deps in expected.items():
        got = services[name]["depends_on"]
        assert isinstance(got, dict), f"{name}: depends_on needs the long form with conditions"
        for dep, condition in deps.items():
            assert got[dep]["condition"] == condition, (name, dep)
    # whatever a service waits for to be healthy has a healthcheck
    for name, svc in services.items():
        for dep, spec in svc.get("depends_on", {}).items():
            if spec["condition"] == "service_healthy":
                assert "healthcheck" in services[dep], (name, dep)


def _env(svc: dict) -> dict[str, str]:
    env = svc.get("environment", {})
    if isinstance(env, list):
        env = dict(e.split("=", 1) for e in env)
    return {k: str(v) for k, v in env.items()}


def test_secrets_only_from_the_environment(compose):
    text = (DOCKER / "docker-compose.yml").read_text(encoding="utf-8")
    assert not re.search(r"sk_(live|test)_[A-Za-z0-9]+|SG\.[A-Za-z0-9_-]{10,}", text)
    for name, svc in compose["services"].items():
        for key, value in _env(svc).items():
            if SECRET_NAME.search(key):
                assert INTERPOLATION.match(value), f"{name}.{key} must come from the environment, got {value!r}"
                assert ":-" not in value or value.endswith(":-}"), f"{name}.{key} has a literal default"
            if "://" in value and "@" in value:  # a URL with credentials: the password is interpolated
                creds = re.match(r"^[a-z]+://(\$\{[^}]*\}|[^:@]*):(\$\{[^}]*\}|[^@]*)@", value)
                assert creds and INTERPOLATION.match(creds.group(2)), f"{name}.{key} embeds a literal password"
        assert "env_file" not in svc or all(".env" in f for f in svc["env_file"])
    user_code = _env(compose["services"]["user_code"])
    assert user_code["SENDGRID_API_KEY"].startswith("${SENDGRID_API_KEY")
    assert user_code["STRIPE_API_KEY"].startswith("${STRIPE_API_KEY")
    url = user_code["DATABASE_URL"]
    assert url.startswith("postgresql://") and url.endswith("@postgres:5432/vigil")


def test_dagster_storage_env_is_shared(compose):
    instance = yaml.safe_load((DOCKER / "dagster.yaml").read_text(encoding="utf-8"))
    pg = instance["storage"]["postgres"]["postgres_db"]
    env_names = set()
    for key in ("hostname", "username", "password", "db_name", "port"):
        assert set(pg[key]) == {"env"}, key  # every value from the environment
        env_names.add(pg[key]["env"])
    for name in ("user_code", "webserver", "daemon"):
        env = _env(compose["services"][name])
        assert env_names <= set(env), (name, env_names - set(env))
        assert env["DAGSTER_PG_DB"] == "vigil_dagster"


def test_dagster_yaml_is_a_valid_instance_config(monkeypatch):
    pytest.importorskip("dagster")
    from dagster._core.instance.config import dagster_instance_config

    for key in ("DAGSTER_PG_HOST", "DAGSTER_PG_USER", "DAGSTER_PG_PASSWORD", "DAGSTER_PG_DB"):
        monkeypatch.setenv(key, "x")
    monkeypatch.setenv("DAGSTER_PG_PORT", "5432")
    config, _ = dagster_instance_config(str(DOCKER))
    assert "postgres" in config["storage"]


def test_workspace_points_at_user_code(compose):
    ws = yaml.safe_load((DOCKER / "workspace.yaml").read_text(encoding="utf-8"))
    (entry,) = ws["load_from"]
    grpc = entry["grpc_server"]
    assert (grpc["host"], grpc["port"]) == ("user_code", 4000)
    assert "4000" in [str(p) for p in compose["services"]["user_code"]["expose"]]
