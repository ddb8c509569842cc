"""The part of the dagster/dagster chart's values schema that deploy/helm/values.yaml uses,
written from the chart's own pydantic models (dagster-io/dagster, helm/dagster/schema/schema/
charts/: dagster/values.py and subschema/{daemon, run_launcher, compute_log_manager,
postgresql, migrate, concurrency, global_}.py, dagster_user_deployments/subschema/
user_deployments.py) for chart 1.13. Where a model says `extra="forbid"` an unknown key is
refused here too, so a misspelt value fails this check as it fails `helm install`.

Kubernetes objects (resources, volumes, security contexts) are only checked for their JSON
type, as the chart's schema refers to the Kubernetes schema for them."""

from __future__ import annotations

STRING = {"type": "string"}
INTEGER = {"type": "integer"}
BOOLEAN = {"type": "boolean"}
OBJECT = {"type": "object"}
STRING_MAP = {"type": "object", "additionalProperties": {"type": "string"}}
OBJECT_LIST = {"type": "array", "items": {"type": "object"}}
# dagster's IntSource / StringSource: a value or {env: NAME}
INT_SOURCE = {"anyOf": [INTEGER, {"type": "object", "properties": {"env": STRING}, "required": ["env"]}]}
STRING_SOURCE = {"anyOf": [STRING, {"type": "object", "properties": {"env": STRING}, "required": ["env"]}]}


def model(properties: dict, required: tuple[str, ...] = (), forbid_extra: bool = True) -> dict:
    schema = {"type": "object", "properties": properties, "required": list(required)}
    if forbid_extra:
        schema["additionalProperties"] = False
    return schema


SECRET_REF = model({"name": STRING}, ("name",), forbid_extra=False)  # SecretEnvSource
IMAGE = model({"repository": STRING, "tag": {"type": ["string", "integer", "null"]},
               "pullPolicy": {"enum": ["Always", "IfNotPresent", "Never"]}}, ("repository",), forbid_extra=False)
ENV = {"anyOf": [STRING_MAP, OBJECT_LIST]}

USER_DEPLOYMENT = model({
    "name": STRING, "image": IMAGE, "port": INTEGER,
    "dagsterApiGrpcArgs": {"type": "array", "items": STRING},
    "codeServerArgs": {"type": "array", "items": STRING},
    "includeConfigInLaunchedRuns": model({"enabled": BOOLEAN}, ("enabled",), forbid_extra=False),
    "env": ENV, "envConfigMaps": OBJECT_LIST, "envSecrets": {"type": "array", "items": SECRET_REF},
    "annotations": STRING_MAP, "nodeSelector": STRING_MAP, "affinity": OBJECT, "tolerations": OBJECT_LIST,
    "podSecurityContext": OBJECT, "securityContext": OBJECT, "resources": OBJECT,
    "livenessProbe": OBJECT, "readinessProbe": OBJECT, "startupProbe": OBJECT, "labels": STRING_MAP,
    "volumeMounts": OBJECT_LIST, "volumes": OBJECT_LIST, "schedulerName": STRING,
}, ("name", "image", "port"), forbid_extra=False)

K8S_RUN_LAUNCHER = model({
    "image": IMAGE, "imagePullPolicy": {"enum": ["Always", "IfNotPresent", "Never"]}, "jobNamespace": STRING,
    "loadInclusterConfig": BOOLEAN, "kubeconfigFile": STRING, "envConfigMaps": OBJECT_LIST,
    "envSecrets": {"type": "array", "items": SECRET_REF}, "envVars": {"type": "array", "items": STRING},
    "volumeMounts": OBJECT_LIST, "volumes": OBJECT_LIST, "labels": STRING_MAP, "failPodOnRunFailure": BOOLEAN,
    "resources": OBJECT, "schedulerName": STRING, "securityContext": OBJECT,
    "runK8sConfig": model({key: OBJECT for key in ("containerConfig", "podSpecConfig", "podTemplateSpecMetadata",
                                                   "jobSpecConfig", "jobMetadata")}),
})

S3_COMPUTE_LOGS = model({
    "localDir": STRING_SOURCE, "prefix": STRING_SOURCE, "useSsl": BOOLEAN, "verify": BOOLEAN,
    "verifyCertPath": STRING_SOURCE, "endpointUrl": STRING_SOURCE, "skipEmptyFiles": BOOLEAN,
    "uploadInterval": INTEGER, "uploadExtraArgs": OBJECT, "showUrlOnly": BOOLEAN, "region": STRING_SOURCE,
    "bucket": STRING_SOURCE,
}, ("bucket",), forbid_extra=False)

TAG_LIMIT = model({"key": STRING, "value": {"anyOf": [STRING, model({"applyLimitPerUniqueValue": BOOLEAN})]},
                   "limit": INTEGER}, ("key", "limit"))

DAEMON = model({
    "enabled": BOOLEAN, "image": IMAGE,
    "runCoordinator": model({
        "enabled": BOOLEAN, "type": {"enum": ["QueuedRunCoordinator", "CustomRunCoordinator"]},
        "config": model({"queuedRunCoordinator": model({
            "maxConcurrentRuns": INT_SOURCE, "tagConcurrencyLimits": {"type": "array", "items": TAG_LIMIT},
            "dequeueIntervalSeconds": INT_SOURCE, "dequeueNumWorkers": INT_SOURCE, "dequeueUseThreads": BOOLEAN,
            "blockOpConcurrencyLimitedRuns": OBJECT,
        })}, forbid_extra=False),
    }),
    "heartbeatTolerance": INTEGER, "env": ENV, "envConfigMaps": OBJECT_LIST,
    "envSecrets": {"type": "array", "items": SECRET_REF}, "deploymentLabels": STRING_MAP, "labels": STRING_MAP,
    "nodeSelector": STRING_MAP, "affinity": OBJECT, "tolerations": OBJECT_LIST, "podSecurityContext": OBJECT,
    "securityContext": OBJECT, "resources": OBJECT, "livenessProbe": OBJECT, "readinessProbe": OBJECT,
    "startupProbe": OBJECT, "annotations": STRING_MAP, "schedulerName": STRING, "volumeMounts": OBJECT_LIST,
    "volumes": OBJECT_LIST,
    # a free mapping in the chart's model; these are the keys its instance template reads
    "runMonitoring": model({"enabled": BOOLEAN, "startTimeoutSeconds": INTEGER, "cancelTimeoutSeconds": INTEGER,
                            "maxResumeRunAttempts": INTEGER, "pollIntervalSeconds": INTEGER,
                            "freeSlotsAfterRunEndSeconds": INTEGER}),
    "runRetries": model({"enabled": BOOLEAN, "maxRetries": INTEGER}),
    "sensors": model({"useThreads": BOOLEAN, "numWorkers": INTEGER, "numSubmitWorkers": INTEGER},
                     ("useThreads",), forbid_extra=False),
    "schedules": model({"useThreads": BOOLEAN, "numWorkers": INTEGER, "numSubmitWorkers": INTEGER},
                       ("useThreads",), forbid_extra=False),
})

VALUES = model({
    "global": model({"postgresqlSecretName": STRING, "dagsterHome": STRING, "serviceAccountName": STRING,
                     "celeryConfigSecretName": STRING, "dagsterInstanceConfigMap": STRING}, forbid_extra=False),
    "generatePostgresqlPasswordSecret": BOOLEAN,
    "postgresql": model({"postgresqlScheme": STRING, "image": OBJECT, "enabled": BOOLEAN, "postgresqlHost": STRING,
                         "postgresqlUsername": STRING, "postgresqlPassword": STRING, "postgresqlDatabase": STRING,
                         "postgresqlParams": OBJECT, "service": model({"port": INTEGER}, ("port",))},
                        forbid_extra=False),
    "dagsterWebserver": OBJECT,
    "dagster-user-deployments": model({"enabled": BOOLEAN, "enableSubchart": BOOLEAN,
                                       "imagePullSecrets": OBJECT_LIST,
                                       "deployments": {"type": "array", "items": USER_DEPLOYMENT}},
                                      forbid_extra=False),
    "runLauncher": model({
        "type": {"enum": ["CeleryK8sRunLauncher", "K8sRunLauncher", "CustomRunLauncher"]},
        "config": model({"k8sRunLauncher": K8S_RUN_LAUNCHER, "celeryK8sRunLauncher": OBJECT,
                         "customRunLauncher": OBJECT}, forbid_extra=False),
    }, ("type", "config")),
    "computeLogManager": model({
        "type": {"enum": ["NoOpComputeLogManager", "AzureBlobComputeLogManager", "GCSComputeLogManager",
                          "S3ComputeLogManager", "CustomComputeLogManager"]},
        "config": model({"s3ComputeLogManager": S3_COMPUTE_LOGS, "gcsComputeLogManager": OBJECT,
                         "azureBlobComputeLogManager": OBJECT, "customComputeLogManager": OBJECT}),
    }, ("type", "config")),
    "dagsterDaemon": DAEMON,
    "concurrency": model({
        "enabled": BOOLEAN,
        "pools": model({"defaultLimit": INTEGER, "granularity": {"enum": ["op", "run"]},
                        "opGranularityRunBuffer": INTEGER}),
        "runs": model({"maxConcurrentRuns": INTEGER, "tagConcurrencyLimits": {"type": "array", "items": TAG_LIMIT}}),
    }),
    "migrate": model({"enabled": BOOLEAN, "extraContainers": OBJECT_LIST, "initContainers": OBJECT_LIST},
                     ("enabled",)),
    "telemetry": model({"enabled": BOOLEAN}, ("enabled",)),
    "imagePullSecrets": OBJECT_LIST, "serviceAccount": OBJECT, "retention": OBJECT, "ingress": OBJECT,
    "pythonLogs": OBJECT, "scheduler": OBJECT, "busybox": OBJECT, "additionalInstanceConfig": OBJECT,
    "rabbitmq": OBJECT, "redis": OBJECT, "flower": OBJECT, "generateCeleryConfigSecret": BOOLEAN,
}, forbid_extra=False)  # the top-level model allows extra keys (a `dagit` alias); the test refuses unknown ones
