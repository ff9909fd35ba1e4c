"""`slar api-key create/list/revoke` in a real subprocess; the printed key then works on /api/v1."""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from app.config import reset_settings
from app.db import reset_engines
from ingest.app import app
from tests import infra
from tests.test_cli import one_json_line, scalar, slar


@pytest.fixture(scope="module")
def db() -> Iterator[str]:
    url = infra.create_database()
    yield url
    infra.drop_database(url)


def test_create_list_revoke_and_the_key_works_until_revoked(db: str, redis_env: dict[str, str]) -> None:
    one_json_line(slar("team", "create", "Payments", "--json", db=db))
    one_json_line(
        slar(
            "user",
            "create",
            "--email",
            "ops@example.test",
            "--name",
            "Ops",
            "--team",
            "Payments",
            "--json",
            db=db,
        )
    )
    made = one_json_line(
        slar(
            "api-key",
            "create",
            "--user",
            "ops@example.test",
            "--name",
            "terraform",
            "--scope",
            "config:write",
            "--team",
            "Payments",
            "--expires-days",
            "30",
            "--json",
            db=db,
        )
    )
    raw = made["key"]
    assert made["scopes"] == ["config:write", "read"] and made["expires_at"] and "key_hash" not in made
    # Only the SHA-256 of the key is stored.
    stored = scalar(db, "SELECT key_hash FROM api_keys WHERE id = %s", made["id"])
    assert stored == hashlib.sha256(raw.encode()).hexdigest()
    listing = slar("api-key", "list", db=db)
    assert listing.returncode == 0 and made["prefix"] in listing.stdout and raw not in listing.stdout
    old = os.environ.get("DATABASE_URL")
    os.environ["DATABASE_URL"] = db
    reset_settings()
    reset_engines()
    try:
        with TestClient(app) as client:
            me = client.get("/api/v1/users/current", headers={"Authorization": f"Bearer {raw}"})
            assert me.status_code == 200 and me.json()["email"] == "ops@example.test"
            revoked = slar("api-key", "revoke", str(made["id"]), db=db)
            assert revoked.returncode == 0 and "revoked" in revoked.stdout
            again = client.get("/api/v1/users/current", headers={"Authorization": f"Bearer {raw}"})
            assert again.status_code == 401
    finally:
        if old is not None:
            os.environ["DATABASE_URL"] = old
        reset_settings()
        reset_engines()
    bad = slar("api-key", "create", "--user", "ops@example.test", "--name", "x", "--scope", "root", db=db)
    assert bad.returncode == 2 and "scope 'root'" in bad.stderr
    nobody = slar("api-key", "create", "--user", "nobody@example.test", "--name", "x", db=db)
    assert nobody.returncode == 2 and "nobody@example.test" in nobody.stderr
