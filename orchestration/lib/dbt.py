"""The dbt project as Dagster sees it: where it lives, a fresh manifest, and how dbt
nodes become asset keys (``[schema, model]``, sources mapped to the ingest assets)."""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import dagster as dg
from dagster_dbt import DagsterDbtTranslator, DagsterDbtTranslatorSettings, DbtCliResource, DbtProject

from orchestration.lib.lineage import pulls_writing
from vigil import config

DBT_PROJECT_DIR = Path(__file__).resolve().parents[2] / "dbt_project"
_PARSE_ENV_DEFAULTS = {
    "VIGIL_PG_HOST": "localhost",
    "VIGIL_PG_PORT": "5432",
    "VIGIL_PG_USER": "postgres",
    "VIGIL_PG_PASSWORD": "",
    "VIGIL_PG_DATABASE": "vigil",
}

dbt_project = DbtProject(project_dir=DBT_PROJECT_DIR, profiles_dir=DBT_PROJECT_DIR, target_path=Path("target"))


def dbt_target_path() -> Path:
    """One dbt target folder per VIGIL_HOME, reused by every run (dagster-dbt's default is a
    new folder per invocation, which grows without end and loses dbt's partial parse)."""
    return config.paths().home / "dbt" / "target"


def _newest_source_mtime() -> float:
    watched = [DBT_PROJECT_DIR / "dbt_project.yml"]
    for folder in ("models", "macros", "tests", "seeds"):
        watched.extend(p for p in (DBT_PROJECT_DIR / folder).rglob("*") if p.is_file())
    return max((p.stat().st_mtime for p in watched if p.exists()), default=0.0)


def ensure_manifest() -> Path:
    """Parse the project when the manifest is missing or older than any dbt file; parsing
    needs no database, so connection variables get harmless defaults if unset."""
    manifest = dbt_project.manifest_path
    if manifest.exists() and manifest.stat().st_mtime >= _newest_source_mtime():
        return manifest
    from dbt.cli.main import dbtRunner

    saved = {k: os.environ.get(k) for k in _PARSE_ENV_DEFAULTS}
    for key, value in _PARSE_ENV_DEFAULTS.items():
        os.environ.setdefault(key, value)
    try:
        result = dbtRunner().invoke(
            ["parse", "--quiet", "--project-dir", str(DBT_PROJECT_DIR), "--profiles-dir", str(DBT_PROJECT_DIR)]
        )
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
    if not result.success:
        raise RuntimeError(f"dbt parse failed: {result.exception}")
    return manifest


class VigilDbtTranslator(DagsterDbtTranslator):
    """Models keyed by ``[schema, name]`` and grouped by their layer, so the lineage reads
    raw -> staging -> marts -> billing in the UI."""

    def get_asset_key(self, dbt_resource_props: Mapping[str, Any]) -> dg.AssetKey:
        if dbt_resource_props["resource_type"] == "source":
            return super().get_asset_key(dbt_resource_props)
        schema = dbt_resource_props.get("config", {}).get("schema") or dbt_resource_props.get("schema")
        return dg.AssetKey([schema, dbt_resource_props["name"]])

    def get_asset_spec(self, manifest: Mapping[str, Any], unique_id: str, project: DbtProject | None) -> dg.AssetSpec:
        """A model reading a raw table also depends on the vendor API pulls writing it."""
        spec = super().get_asset_spec(manifest, unique_id, project)
        node = manifest["nodes"].get(unique_id) or {}
        pulls = []
        for parent in node.get("depends_on", {}).get("nodes", []):
            source = manifest.get("sources", {}).get(parent)
            if source and source.get("schema") == "raw":
                pulls += pulls_writing(source["name"])
        return spec.merge_attributes(deps=sorted(set(pulls), key=lambda k: k.path)) if pulls else spec

    def get_group_name(self, dbt_resource_props: Mapping[str, Any]) -> str | None:
        fqn = dbt_resource_props.get("fqn", [])
        return fqn[1] if len(fqn) > 2 else "transform"


translator = VigilDbtTranslator(settings=DagsterDbtTranslatorSettings(enable_asset_checks=True))


def dbt_resource() -> DbtCliResource:
    """dbt from this interpreter's environment, whether or not it is on PATH."""
    beside_python = Path(sys.executable).parent / "dbt"
    executable = str(beside_python) if beside_python.exists() else "dbt"
    return DbtCliResource(project_dir=dbt_project, profiles_dir=str(DBT_PROJECT_DIR), dbt_executable=executable)
