"""The picture in DESIGN.md stays true: layout, dependency direction (import-linter covers
the packages; this covers the top-level modules) and the compose file against Settings."""

from __future__ import annotations

import ast
import json
from pathlib import Path

import jsonschema
import yaml

from config import ROOT, Settings

REQUIRED = [
    "policies",
    "rules",
    "activities",
    "workflows",
    "api",
    "store",
    "worker.py",
    "docker-compose.yml",
    "pyproject.toml",
    "tests",
    "README.md",
    "Makefile",
    ".ci/run",
]


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text())
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names |= {a.name.split(".")[0] for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module.split(".")[0])
    return names


def test_required_layout_exists() -> None:
    missing = [p for p in REQUIRED if not (ROOT / p).exists()]
    assert missing == []


def test_top_level_modules_never_import_api() -> None:
    for name in ("config.py", "worker.py", "devstack.py", "cli.py"):
        assert "api" not in _imports(ROOT / name), name


def test_workflow_modules_import_no_project_package_but_payloads() -> None:
    # pydantic: the payload models (task completions) the Update validators check with
    allowed = {"workflows", "temporalio", "pydantic", "pydantic_core", "__future__"}
    for path in (ROOT / "workflows").glob("*.py"):
        ours = _imports(path) & {"rules", "store", "activities", "api", "config"}
        assert ours == set(), f"{path.name} imports {ours}"
        assert _imports(path) - allowed <= set(__import__("sys").stdlib_module_names), path.name


def _compose() -> dict:  # type: ignore[type-arg]
    return yaml.safe_load((ROOT / "docker-compose.yml").read_text())  # type: ignore[no-any-return]


def test_compose_matches_the_compose_specification() -> None:
    schema = json.loads((ROOT / "tests/data/compose-spec.json").read_text())
    jsonschema.Draft7Validator(schema).validate(_compose())


def test_compose_environment_matches_settings() -> None:
    fields = {f"SEGFLOW_{name.upper()}" for name in Settings.model_fields}
    compose = _compose()
    for name in ("api", "worker", "migrate"):
        env = compose["services"][name]["environment"]
        keys = set(env)
        assert keys <= fields, f"{name}: unknown settings {keys - fields}"
        assert {"SEGFLOW_DATABASE_URL", "SEGFLOW_TEMPORAL_ADDRESS"} <= keys
        assert env["SEGFLOW_DATABASE_URL"].startswith("postgresql+psycopg://")
        Settings(**{k.removeprefix("SEGFLOW_").lower(): v for k, v in env.items() if "${" not in v})


def test_compose_services_cover_the_production_stack() -> None:
    services = _compose()["services"]
    assert {"postgres", "temporal", "temporal-ui", "api", "worker"} <= set(services)
    assert "healthcheck" in services["postgres"]
    assert services["api"]["build"] == services["worker"]["build"] == "."
    assert "python:3.12-slim" in (ROOT / "Dockerfile").read_text()


def test_readme_lists_every_setting() -> None:
    readme = (ROOT / "README.md").read_text()
    missing = [
        f"SEGFLOW_{n.upper()}"
        for n in Settings.model_fields
        if f"SEGFLOW_{n.upper()}" not in readme
    ]
    assert missing == []
