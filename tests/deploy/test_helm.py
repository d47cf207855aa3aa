"""deploy/helm/iep rendered (tests/deploy/helm_render.py: no helm binary here) and every manifest validated against
the Kubernetes schemas of kubernetes-validate (strict: unknown fields fail). Not checked here: Helm's own
rendering and hook ordering, and a real cluster's admission (docs/operations.md says so)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest

from tests.deploy.helm_render import Unsupported, render_chart, render_template

CHART = Path(__file__).resolve().parents[2] / "deploy/helm/iep"  # rendered in Python: no helm binary is run
ROLES = ("api", "worker", "relay", "webhooks", "smtp", "registry")
KUBERNETES = "1.30.0"


def _all(rendered: dict[str, list[dict[str, Any]]]) -> list[dict[str, Any]]:
    return [doc for docs in rendered.values() for doc in docs]


def _by_kind(docs: list[dict[str, Any]], kind: str) -> dict[str, dict[str, Any]]:
    return {d["metadata"]["name"]: d for d in docs if d["kind"] == kind}


@pytest.fixture(scope="module")
def docs() -> list[dict[str, Any]]:
    return _all(render_chart(CHART, release="mail"))


def test_every_manifest_validates_against_the_kubernetes_schema(docs: list[dict[str, Any]]) -> None:
    assert len(docs) >= 12
    for doc in docs:
        kubernetes_validate.validate(doc, KUBERNETES, strict=True)


def test_the_validation_would_catch_a_mistake(docs: list[dict[str, Any]]) -> None:
    deployment = next(d for d in docs if d["kind"] == "Deployment")
    broken = {**deployment, "spec": {**deployment["spec"], "replicas": "two"}}
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(broken, KUBERNETES, strict=True)


def test_one_deployment_per_role_probed_on_health_and_ready(docs: list[dict[str, Any]]) -> None:
    deployments = _by_kind(docs, "Deployment")
    assert set(deployments) == {f"mail-{role}" for role in ROLES}
    for role in ROLES:
        pod = deployments[f"mail-{role}"]["spec"]["template"]["spec"]
        assert pod["securityContext"]["runAsNonRoot"] is True
        (container,) = pod["containers"]
        env = {e["name"]: e.get("value") for e in container["env"]}
        assert env["SERVICE_ROLE"] == role
        port_names = {p["name"]: p["containerPort"] for p in container["ports"]}
        probe_port = container["readinessProbe"]["httpGet"]["port"]
        assert container["readinessProbe"]["httpGet"]["path"] == "/ready"
        assert container["livenessProbe"]["httpGet"]["path"] == "/health"
        # The API answers on PORT; every other role on METRICS_PORT.
        assert port_names[probe_port] == (8000 if role == "api" else 9464)
        assert env["METRICS_PORT"] == "9464"
        refs = [ref for source in container["envFrom"] for ref in source.values()]
        assert {"name": "iep-secrets"} in refs


def test_workers_scale_with_an_hpa(docs: list[dict[str, Any]]) -> None:
    (hpa,) = _by_kind(docs, "HorizontalPodAutoscaler").values()
    assert hpa["spec"]["scaleTargetRef"] == {"apiVersion": "apps/v1", "kind": "Deployment", "name": "mail-worker"}
    assert "replicas" not in _by_kind(docs, "Deployment")["mail-worker"]["spec"]


def test_secrets_come_from_a_secret_and_a_job_migrates_first(docs: list[dict[str, Any]]) -> None:
    (secret,) = _by_kind(docs, "Secret").values()
    assert {"DATABASE_URL", "IEP_ENCRYPTION_KEY", "S3_SECRET_KEY"} <= set(secret["stringData"])
    (job,) = _by_kind(docs, "Job").values()
    assert job["metadata"]["annotations"]["helm.sh/hook"] == "pre-install,pre-upgrade"
    # What the Job reads exists before it: lower hook weights.
    assert int(secret["metadata"]["annotations"]["helm.sh/hook-weight"]) < int(
        job["metadata"]["annotations"]["helm.sh/hook-weight"]
    )
    (container,) = job["spec"]["template"]["spec"]["containers"]
    assert container["env"] == [{"name": "SERVICE_ROLE", "value": "migrate"}]


def test_optional_parts_go_away_when_turned_off() -> None:
    docs = _all(
        render_chart(
            CHART,
            values={"smtp": {"enabled": False}, "registry": {"enabled": False}, "secret": {"create": False}},
        )
    )
    assert set(_by_kind(docs, "Deployment")) == {"iep-api", "iep-worker", "iep-relay", "iep-webhooks"}
    assert not _by_kind(docs, "Secret")
    assert "iep-smtp" not in _by_kind(docs, "Service")
    for doc in docs:
        kubernetes_validate.validate(doc, KUBERNETES, strict=True)


def test_the_renderer_refuses_what_it_does_not_implement() -> None:
    with pytest.raises(Unsupported):
        render_template('{{ include "iep.labels" . }}', {})
    with pytest.raises(Unsupported):
        render_template("{{ .Values.x | b64enc }}", {"Values": {"x": "y"}})
    with pytest.raises(KeyError):
        render_template("{{ .Values.missing }}", {"Values": {}})
    assert (
        render_template(
            "a:\n  {{- if .Values.on }}\n  b: {{ .Values.n | quote }}\n  {{- end }}\n", {"Values": {"on": True, "n": 3}}
        )
        == 'a:\n  b: "3"\n'
    )
