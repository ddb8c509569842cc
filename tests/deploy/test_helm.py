"""Static checks of deploy/helm: the values for the official dagster/dagster chart against
the chart's values schema (tests/deploy/dagster_chart_schema.py) and against what Vigil
needs, and Vigil's own chart (migration hook Job, web application) rendered and checked.
No cluster and no helm binary here: deploy/README in docs/deploy.md says how to run
`helm lint` and `helm template` where they exist."""

from __future__ import annotations

import copy
import re
from pathlib import Path

import jsonschema
import pytest
import yaml

from tests.deploy.dagster_chart_schema import VALUES as CHART_SCHEMA

ROOT = Path(__file__).resolve().parents[2]
HELM = ROOT / "deploy" / "helm"
SECRET_NAME = re.compile(r"(PASSWORD|SECRET|SECRET_KEY|TOKEN|API_KEY|PRIVATE_KEY|CREDENTIALS?)$", re.IGNORECASE)


@pytest.fixture(scope="module")
def values() -> dict:
    return yaml.safe_load((HELM / "values.yaml").read_text(encoding="utf-8"))


def dockerfile_arg(name: str) -> str:
    text = (ROOT / "docker" / "Dockerfile").read_text(encoding="utf-8")
    return re.search(rf"^ARG {name}=(\S+)$", text, re.MULTILINE).group(1)


def test_chart_version_is_the_dagster_version():
    version = dockerfile_arg("DAGSTER_VERSION")
    header = (HELM / "values.yaml").read_text(encoding="utf-8")
    assert f"dagster/dagster --version {version}" in header
    assert f"--version {version}" in (ROOT / "docs" / "deploy.md").read_text(encoding="utf-8")
    pyproject = (ROOT / "pyproject.toml").read_text(encoding="utf-8")
    assert '"dagster>=1.13,<1.14"' in pyproject and version.startswith("1.13.")


def test_values_follow_the_chart_schema(values):
    jsonschema.validate(values, CHART_SCHEMA)
    assert set(values) <= set(CHART_SCHEMA["properties"]), set(values) - set(CHART_SCHEMA["properties"])


@pytest.mark.parametrize("path, wrong", [
    (("runLauncher", "config", "k8sRunLauncher", "envSecret"), [{"name": "x"}]),  # misspelt
    (("dagsterDaemon", "runMonitoring", "freeSlotsAfterRunEnd"), 300),
    (("concurrency", "pools", "defaultLimit"), "one"),
    (("runLauncher", "type"), "K8sLauncher"),
])
def test_the_schema_check_refuses_a_wrong_value(values, path, wrong):
    broken = copy.deepcopy(values)
    node = broken
    for key in path[:-1]:
        node = node[key]
    node[path[-1]] = wrong
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(broken, CHART_SCHEMA)


def test_runs_are_kubernetes_jobs_of_the_user_code_image(values):
    (deployment,) = values["dagster-user-deployments"]["deployments"]
    assert values["dagster-user-deployments"]["enabled"] is True
    args = deployment["codeServerArgs"]
    assert args[args.index("-m") + 1] == "orchestration.definitions"
    assert deployment["includeConfigInLaunchedRuns"]["enabled"] is True
    launcher = values["runLauncher"]
    assert launcher["type"] == "K8sRunLauncher"
    config = launcher["config"]["k8sRunLauncher"]
    assert "image" not in config  # runs use the code location's image
    assert config["envSecrets"] == deployment["envSecrets"] == [{"name": "vigil-secrets"}]
    assert config["volumeMounts"] == deployment["volumeMounts"] and config["volumes"] == deployment["volumes"]
    mounted = {m["mountPath"] for m in deployment["volumeMounts"]}
    assert deployment["env"]["VIGIL_HOME"] in mounted
    assert deployment["env"]["VIGIL_INBOX"].startswith(deployment["env"]["VIGIL_HOME"] + "/")


def test_external_postgresql_and_secrets_only_by_reference(values):
    assert values["postgresql"]["enabled"] is False
    assert values["postgresql"]["postgresqlDatabase"] == "vigil_dagster"
    assert "postgresqlPassword" not in values["postgresql"]
    assert values["generatePostgresqlPasswordSecret"] is False and values["global"]["postgresqlSecretName"]
    text = (HELM / "values.yaml").read_text(encoding="utf-8")
    assert not re.search(r"sk_(live|test)_[A-Za-z0-9]+|SG\.[A-Za-z0-9_-]{10,}|postgres(ql)?://[^ ]*:[^ ]*@", text)
    for deployment in values["dagster-user-deployments"]["deployments"]:
        for name in deployment.get("env", {}):
            assert not SECRET_NAME.search(name), f"{name} must come from envSecrets"


def test_run_monitoring_compute_logs_and_dagster_migrations(values):
    monitoring = values["dagsterDaemon"]["runMonitoring"]
    assert monitoring["enabled"] is True and monitoring["maxResumeRunAttempts"] >= 1
    assert monitoring["freeSlotsAfterRunEndSeconds"] > 0
    logs = values["computeLogManager"]
    assert logs["type"] == "S3ComputeLogManager" and logs["config"]["s3ComputeLogManager"]["bucket"]
    assert values["migrate"]["enabled"] is True  # Dagster's own storage, as the chart's hook
    assert values["dagsterDaemon"]["runCoordinator"]["type"] == "QueuedRunCoordinator"


def test_concurrency_is_what_vigil_writes_for_its_own_instance(values):
    from vigil import services

    instance = yaml.safe_load(services.DAGSTER_YAML)["concurrency"]
    compose_instance = yaml.safe_load((ROOT / "docker" / "dagster.yaml").read_text(encoding="utf-8"))["concurrency"]
    chart = values["concurrency"]
    assert chart["enabled"] is True
    assert chart["pools"]["defaultLimit"] == instance["pools"]["default_limit"] == \
        compose_instance["pools"]["default_limit"] == 1
    limits = {(limit["key"], limit["limit"]) for limit in chart["runs"]["tagConcurrencyLimits"]}
    assert (services.WAREHOUSE_RUN_TAG, 1) in limits
    assert limits == {(limit["key"], limit["limit"]) for limit in instance["runs"]["tag_concurrency_limits"]}


def test_the_image_and_dockerfile_carry_what_run_pods_load():
    text = (ROOT / "docker" / "Dockerfile").read_text(encoding="utf-8")
    for library in ("dagster-k8s", "dagster-aws", "dagster-postgres"):
        assert f'"{library}==${{DAGSTER_LIBS_VERSION}}"' in text, library


# --------------------------------------------------------------------------- Vigil's chart


TEMPLATE_EXPRESSION = re.compile(r"(\{\{-?\s*)(.*?)(\s*-?\}\})")


def lookup(context: dict, dotted: str):
    node = context
    for key in dotted.lstrip(".").split("."):
        node = node[key]
    return node


def render(template: str, values: dict, release: str = "vigil") -> str:
    """The Go template subset the chart's templates use: `.Values.x.y`, `.Release.Name`,
    `| quote`, and `toYaml .Values.x | nindent N`. Anything else fails the test."""
    context = {"Values": values, "Release": {"Name": release, "Namespace": "vigil"}}
    lines = []
    for line in template.splitlines():
        def substitute(match: re.Match) -> str:
            expression = match.group(2).strip()
            to_yaml = re.fullmatch(r"toYaml (\.\S+) \| nindent (\d+)", expression)
            if to_yaml:
                dumped = yaml.safe_dump(lookup(context, to_yaml.group(1)), sort_keys=False).rstrip("\n")
                indent = " " * int(to_yaml.group(2))
                return "\n" + "\n".join(indent + row for row in dumped.splitlines())
            quoted = re.fullmatch(r"(\.\S+) \| quote", expression)
            if quoted:
                return '"' + str(lookup(context, quoted.group(1))) + '"'
            assert re.fullmatch(r"\.\S+", expression), f"template expression not understood: {expression}"
            return str(lookup(context, expression))
        rendered = TEMPLATE_EXPRESSION.sub(substitute, line)
        if line.lstrip().startswith("{{-"):  # `{{-` trims the whitespace and line break before it
            lines[-1] += rendered.lstrip(" ")
        else:
            lines.append(rendered)
    return "\n".join(lines) + "\n"


@pytest.fixture(scope="module")
def chart() -> dict:
    values = yaml.safe_load((HELM / "vigil" / "values.yaml").read_text(encoding="utf-8"))
    objects = {}
    for path in sorted((HELM / "vigil" / "templates").glob("*.yaml")):
        manifest = yaml.safe_load(render(path.read_text(encoding="utf-8"), values))
        objects[manifest["kind"]] = manifest
    return {"values": values, "objects": objects}


def test_chart_metadata():
    meta = yaml.safe_load((HELM / "vigil" / "Chart.yaml").read_text(encoding="utf-8"))
    assert meta["apiVersion"] == "v2" and meta["name"] == "vigil" and meta["type"] == "application"


def test_the_image_is_the_code_locations(chart, values):
    (deployment,) = values["dagster-user-deployments"]["deployments"]
    image = chart["values"]["image"]
    assert (image["repository"], image["tag"]) == (deployment["image"]["repository"], deployment["image"]["tag"])


def test_migrations_are_a_hook_job_before_install_and_upgrade(chart):
    job = chart["objects"]["Job"]
    annotations = job["metadata"]["annotations"]
    assert set(annotations["helm.sh/hook"].split(",")) == {"pre-install", "pre-upgrade"}
    assert "before-hook-creation" in annotations["helm.sh/hook-delete-policy"]
    pod = job["spec"]["template"]["spec"]
    assert pod["restartPolicy"] == "Never"
    (container,) = pod["containers"]
    assert container["args"] == ["vigil", "migrate"]
    assert container["envFrom"] == [{"secretRef": {"name": "vigil-secrets"}}]
    assert pod["securityContext"]["runAsNonRoot"] is True


def test_web_application_deployment_and_service(chart):
    deployment, service = chart["objects"]["Deployment"], chart["objects"]["Service"]
    pod = deployment["spec"]["template"]
    assert deployment["spec"]["selector"]["matchLabels"].items() <= pod["metadata"]["labels"].items()
    assert service["spec"]["selector"].items() <= pod["metadata"]["labels"].items()
    (container,) = pod["spec"]["containers"]
    args = container["args"]
    assert args[:2] == ["vigil", "serve"] and "--behind-proxy" in args
    port = int(args[args.index("--port") + 1])
    assert container["ports"] == [{"name": "http", "containerPort": port}]
    assert service["spec"]["ports"][0]["targetPort"] == "http"
    for probe in ("readinessProbe", "livenessProbe"):
        assert container[probe]["httpGet"] == {"path": "/healthz", "port": "http"}
    env = {item["name"]: item["value"] for item in container["env"]}
    (mount,) = container["volumeMounts"]
    assert mount["mountPath"] == env["VIGIL_HOME"]
    assert pod["spec"]["volumes"][0]["persistentVolumeClaim"]["claimName"] == "vigil-home"
    assert not any(SECRET_NAME.search(name) for name in env)


def test_the_renderer_refuses_what_it_does_not_understand():
    with pytest.raises(AssertionError, match="not understood"):
        render("x: {{ include \"vigil.labels\" . }}", {})
