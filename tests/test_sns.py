"""CloudWatch through SNS: only messages Amazon signed (SignatureVersion 1 and 2) change anything."""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from app.alerts import service as alerts
from app.db import session_scope
from app.incidents.models import Alert
from ingest import sns
from ingest.app import app
from tests import factories as f
from tests import infra
from tests.sns_signing import FETCHES, OTHER_KEY, sign, signed_envelope, sns_certificates
from tests.test_alertmanager import free_port

PAYLOADS = Path(__file__).parent / "payloads" / "cloudwatch"


def _load(name: str) -> dict[str, Any]:
    return json.loads((PAYLOADS / name).read_text())


@pytest.fixture()
def certs(database_url: str, redis_env: dict[str, str]) -> Iterator[dict[str, str]]:
    sns._public_key.cache_clear()
    with sns_certificates() as env:
        yield env
    sns._public_key.cache_clear()


@pytest.fixture()
def integration(database_url: str) -> tuple[int, str]:
    with session_scope() as s:
        integ, token = f.integration(s, f.service(s).id, "cloudwatch")
        return integ.id, token


def _alerts(integration_id: int) -> int:
    with session_scope() as s:
        return (
            s.scalar(select(func.count()).select_from(Alert).where(Alert.integration_id == integration_id))
            or 0
        )


def _post(client: TestClient, token: str, body: dict[str, Any]) -> httpx.Response:
    return client.post(
        f"/webhooks/cloudwatch/{token}", content=json.dumps(body), headers={"Content-Type": "text/plain"}
    )


@pytest.mark.parametrize("version", ["1", "2"])
def test_a_signed_alarm_is_stored(certs: dict[str, str], integration: tuple[int, str], version: str) -> None:
    integration_id, token = integration
    with TestClient(app) as client:
        response = _post(client, token, sign(_load("alarm.json"), version=version))
    assert response.status_code == 202 and response.json()["alerts"] == 1, response.text
    assert _alerts(integration_id) == 1


def test_unsigned_forged_and_foreign_messages_are_401_and_change_nothing(
    certs: dict[str, str], integration: tuple[int, str]
) -> None:
    integration_id, token = integration
    alarm = _load("alarm.json")
    tampered = sign(alarm)
    tampered["Message"] = tampered["Message"].replace("api-5xx-rate", "other-alarm")
    unsigned = {
        k: v for k, v in alarm.items() if k not in ("Signature", "SignatureVersion", "SigningCertURL")
    }
    cases = {
        "SignatureVersion": [unsigned, {**sign(alarm), "SignatureVersion": "3"}],
        "Signature": [
            tampered,
            sign(alarm, key=OTHER_KEY),
            {**sign(alarm), "Signature": "not base64!"},
            sign(alarm, cert_url=certs["SLAR_SNS_CERT_URL_PREFIX"] + "missing.pem"),
        ],
        "SigningCertURL": [
            sign(alarm, cert_url=f"http://127.0.0.1:{free_port()}/SimpleNotificationService-x.pem"),
            sign(
                alarm,
                cert_url="https://sns.eu-west-1.amazonaws.com.evil.test/SimpleNotificationService-x.pem",
            ),
        ],
    }
    with TestClient(app) as client:
        for field, bodies in cases.items():
            for body in bodies:
                response = _post(client, token, body)
                assert response.status_code == 401, (field, response.text)
                assert response.json()["field"] == field, response.text
        confirmation = _load("subscription_confirmation.json")
        assert _post(client, token, confirmation).status_code == 401
        assert _post(client, token, sign(confirmation, version="2")).status_code == 202
    assert _alerts(integration_id) == 0
    with session_scope() as s:
        assert len(alerts.sns_subscriptions(session=s, integration_id=integration_id)) == 1


def test_the_certificate_is_fetched_once_and_only_from_sns(
    certs: dict[str, str], integration: tuple[int, str]
) -> None:
    _, token = integration
    FETCHES.clear()
    with TestClient(app) as client:
        for _ in range(3):
            assert (
                _post(
                    client, token, signed_envelope(json.dumps({"AlarmName": "a", "NewStateValue": "OK"}))
                ).status_code
                == 202
            )
    assert FETCHES == ["/SimpleNotificationService-test.pem"]


@pytest.mark.parametrize(
    ("url", "allowed"),
    [
        (
            "https://sns.eu-west-1.amazonaws.com/SimpleNotificationService-01d088a6f77103d0fe307c0069e40ed6.pem",
            True,
        ),
        ("https://sns.cn-north-1.amazonaws.com.cn/SimpleNotificationService-1.pem", True),
        ("http://sns.eu-west-1.amazonaws.com/SimpleNotificationService-1.pem", False),
        ("https://sns.eu-west-1.amazonaws.com.evil.test/SimpleNotificationService-1.pem", False),
        ("https://evil.test/sns.eu-west-1.amazonaws.com/x.pem", False),
        ("https://sns.eu-west-1.amazonaws.com/x.pem?redirect=https://evil.test/x.pem", False),
        ("https://s3.amazonaws.com/x.pem", False),
    ],
)
def test_only_sns_certificate_urls_are_allowed(url: str, allowed: bool) -> None:
    assert sns.cert_url_allowed(url) is allowed


def test_a_real_ingest_process_checks_sns_signatures(
    certs: dict[str, str], integration: tuple[int, str], redis_env: dict[str, str], output_dir: Path
) -> None:
    integration_id, token = integration
    port = free_port()
    env = {**os.environ, **redis_env, **certs}
    args = [sys.executable, "-m", "uvicorn", "ingest.app:app", "--host", "127.0.0.1", "--port", str(port)]
    with infra.process(args, env, output_dir / "sns-ingest.log"):
        url = f"http://127.0.0.1:{port}/webhooks/cloudwatch/{token}"
        infra.wait_http(f"http://127.0.0.1:{port}/health/live")
        forged = httpx.post(url, content=json.dumps(_load("alarm.json")), timeout=10)
        signed = httpx.post(url, content=json.dumps(sign(_load("alarm.json"))), timeout=10)
    assert (forged.status_code, signed.status_code) == (401, 202)
    assert _alerts(integration_id) == 1
