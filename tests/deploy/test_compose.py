"""compose.yml against the Compose Specification's JSON schema (vendored: tests/deploy/schemas/README.md), and
what seed 003 §18 asks of it: every role, health checks, dependency order, persistence."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
SCHEMA = Path(__file__).resolve().parent / "schemas" / "compose-spec.json"
ROLES = ("api", "worker", "relay", "webhooks", "smtp", "registry")


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load((ROOT / "compose.yml").read_text())
    return loaded


def test_compose_yml_validates_against_the_compose_specification(compose: dict[str, Any]) -> None:
    schema = json.loads(SCHEMA.read_text())
    jsonschema.Draft7Validator.check_schema(schema)
    errors = sorted(jsonschema.Draft7Validator(schema).iter_errors(compose), key=lambda e: list(e.path))
    assert not errors, [f"{list(e.path)}: {e.message}" for e in errors]


def test_the_schema_catches_a_broken_file(compose: dict[str, Any]) -> None:
    broken = {**compose, "services": {**compose["services"], "api": {**compose["services"]["api"], "ports": 8000}}}
    assert list(jsonschema.Draft7Validator(json.loads(SCHEMA.read_text())).iter_errors(broken))


def test_every_role_runs_from_the_one_image_after_the_migration(compose: dict[str, Any]) -> None:
    services = compose["services"]
    for role in ROLES:
        service = services[role]
        assert service["environment"]["SERVICE_ROLE"] == role
        assert service["build"]["dockerfile"] == "Dockerfile"
        assert service["healthcheck"]["test"] == ["CMD", "healthcheck.sh"]
        depends = service["depends_on"]
        assert depends["migrate"]["condition"] == "service_completed_successfully"
        for infra in ("postgres", "rabbitmq", "redis"):
            assert depends[infra]["condition"] == "service_healthy", (role, infra)
        assert depends["minio-bucket"]["condition"] == "service_completed_successfully"
    migrate = services["migrate"]
    assert migrate["environment"]["SERVICE_ROLE"] == "migrate"
    assert migrate["depends_on"] == {"postgres": {"condition": "service_healthy"}}


def test_the_infrastructure_is_the_seeds_with_persistence_and_health_checks(compose: dict[str, Any]) -> None:
    services = compose["services"]
    assert services["postgres"]["image"] == "postgres:15"
    assert services["redis"]["image"] == "redis:7"
    assert "--appendonly" in services["redis"]["command"]
    assert services["redis"]["command"][services["redis"]["command"].index("--appendonly") + 1] == "yes"
    assert services["rabbitmq"]["image"].endswith("-management")
    assert services["minio"]["image"].startswith("minio/minio")
    for name in ("postgres", "redis", "rabbitmq", "minio"):
        assert services[name]["healthcheck"]["test"], name
        volume = services[name]["volumes"][0].split(":")[0]
        assert volume in compose["volumes"], name


def test_every_bind_mount_names_a_file_of_the_repository(compose: dict[str, Any]) -> None:
    mounts = [
        volume.split(":")[0]
        for service in compose["services"].values()
        for volume in service.get("volumes", [])
        if volume.startswith("./")
    ]
    assert mounts
    for source in mounts:
        assert (ROOT / source).exists(), source
