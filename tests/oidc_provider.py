"""A loopback OpenID Connect provider: discovery, authorization code with PKCE, RS256 id_tokens, JWKS.

/authorize signs in `provider.user` at once (no form) and redirects back with a code and the state;
/token checks the client, the redirect URI and the PKCE verifier and answers with an id_token carrying
the nonce, signed with a key made here. Streamlit's st.login and Authlib run their real code against it.
"""

from __future__ import annotations

import base64
import hashlib
import json
import secrets
import time
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from tests.loopback._http import Call, LoopbackServer

KID = "slar-test-key"
# What a route answers: status and JSON, plus headers for a redirect.
Answer = tuple[int, dict[str, Any]] | tuple[int, dict[str, Any], dict[str, str]]


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def _uint(n: int) -> str:
    return _b64(n.to_bytes((n.bit_length() + 7) // 8, "big"))


@dataclass(frozen=True)
class Identity:
    """The person the provider vouches for at the next /authorize."""

    email: str
    name: str

    @property
    def sub(self) -> str:
        return hashlib.sha256(self.email.encode()).hexdigest()[:24]


@dataclass
class _Grant:
    identity: Identity
    redirect_uri: str
    nonce: str | None
    challenge: str | None
    used: bool = False


class OidcProvider(LoopbackServer):
    """Answers like an identity provider for one confidential client."""

    def __init__(self, client_id: str = "slar-console", client_secret: str | None = None) -> None:
        super().__init__()
        self.client_id = client_id
        self.client_secret = client_secret or secrets.token_urlsafe(24)
        self.user: Identity | None = None
        self.key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        self.grants: dict[str, _Grant] = {}
        self.access: dict[str, Identity] = {}

    @property
    def issuer(self) -> str:
        return f"http://{self.host}:{self.port}"

    @property
    def metadata_url(self) -> str:
        return f"{self.issuer}/.well-known/openid-configuration"

    def handle(self, call: Call) -> Answer:
        routes = {
            "/.well-known/openid-configuration": self._discovery,
            "/authorize": self._authorize,
            "/token": self._token,
            "/jwks": self._jwks,
            "/userinfo": self._userinfo,
            "/logout": self._logout,
        }
        route = routes.get(call.path.split("?")[0])
        return route(call) if route else (404, {"error": "not_found"})

    def _discovery(self, call: Call) -> tuple[int, dict[str, Any]]:
        i = self.issuer
        return 200, {
            "issuer": i,
            "authorization_endpoint": f"{i}/authorize",
            "token_endpoint": f"{i}/token",
            "jwks_uri": f"{i}/jwks",
            "userinfo_endpoint": f"{i}/userinfo",
            "end_session_endpoint": f"{i}/logout",
            "response_types_supported": ["code"],
            "subject_types_supported": ["public"],
            "id_token_signing_alg_values_supported": ["RS256"],
            "scopes_supported": ["openid", "email", "profile"],
            "token_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post"],
            "code_challenge_methods_supported": ["S256"],
            "claims_supported": ["sub", "email", "email_verified", "name"],
        }

    def _authorize(self, call: Call) -> Answer:
        q = call.body
        if q.get("client_id") != self.client_id or q.get("response_type") != "code":
            return 400, {"error": "unauthorized_client"}
        if "openid" not in q.get("scope", "").split() or not q.get("redirect_uri"):
            return 400, {"error": "invalid_request"}
        if self.user is None:
            return 403, {"error": "access_denied", "error_description": "no user configured"}
        if q.get("code_challenge") and q.get("code_challenge_method") != "S256":
            return 400, {"error": "invalid_request", "error_description": "only S256"}
        code = secrets.token_urlsafe(16)
        self.grants[code] = _Grant(self.user, q["redirect_uri"], q.get("nonce"), q.get("code_challenge"))
        back = {"code": code, **({"state": q["state"]} if "state" in q else {})}
        return 302, {}, {"Location": f"{q['redirect_uri']}?{urlencode(back)}"}

    def _client_ok(self, call: Call) -> bool:
        auth = call.headers.get("authorization", "")
        if auth.startswith("Basic "):
            pair = base64.b64decode(auth[6:]).decode()
            return pair == f"{self.client_id}:{self.client_secret}"
        body = call.body
        return body.get("client_id") == self.client_id and body.get("client_secret") == self.client_secret

    def _token(self, call: Call) -> tuple[int, dict[str, Any]]:
        body = call.body
        if not self._client_ok(call):
            return 401, {"error": "invalid_client"}
        grant = self.grants.get(body.get("code", ""))
        if body.get("grant_type") != "authorization_code" or grant is None or grant.used:
            return 400, {"error": "invalid_grant"}
        if body.get("redirect_uri") != grant.redirect_uri:
            return 400, {"error": "invalid_grant", "error_description": "redirect_uri differs"}
        if grant.challenge is not None:
            verifier = body.get("code_verifier", "")
            if _b64(hashlib.sha256(verifier.encode()).digest()) != grant.challenge:
                return 400, {"error": "invalid_grant", "error_description": "PKCE verifier does not match"}
        grant.used = True
        access = secrets.token_urlsafe(24)
        self.access[access] = grant.identity
        return 200, {
            "access_token": access,
            "token_type": "Bearer",
            "expires_in": 3600,
            "scope": "openid email profile",
            "id_token": self.id_token(grant.identity, grant.nonce),
        }

    def claims(self, who: Identity) -> dict[str, Any]:
        return {"sub": who.sub, "email": who.email, "email_verified": True, "name": who.name}

    def id_token(self, who: Identity, nonce: str | None) -> str:
        now = int(time.time())
        claims = {"iss": self.issuer, "aud": self.client_id, "iat": now, "exp": now + 600, **self.claims(who)}
        if nonce is not None:
            claims["nonce"] = nonce
        header = {"alg": "RS256", "typ": "JWT", "kid": KID}
        signing_input = f"{_b64(json.dumps(header).encode())}.{_b64(json.dumps(claims).encode())}"
        signature = self.key.sign(signing_input.encode(), padding.PKCS1v15(), hashes.SHA256())
        return f"{signing_input}.{_b64(signature)}"

    def _jwks(self, call: Call) -> tuple[int, dict[str, Any]]:
        numbers = self.key.public_key().public_numbers()
        jwk = {
            "kty": "RSA",
            "use": "sig",
            "alg": "RS256",
            "kid": KID,
            "n": _uint(numbers.n),
            "e": _uint(numbers.e),
        }
        return 200, {"keys": [jwk]}

    def _userinfo(self, call: Call) -> tuple[int, dict[str, Any]]:
        who = self.access.get(call.headers.get("authorization", "").removeprefix("Bearer "))
        return (200, self.claims(who)) if who else (401, {"error": "invalid_token"})

    def _logout(self, call: Call) -> Answer:
        back = call.body.get("post_logout_redirect_uri")
        return (302, {}, {"Location": back}) if back else (200, {"signed_out": True})
