"""Sandbox credentials, issued sessions, and the two logins clients use: SOAP partner login and OAuth token."""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
import time
from dataclasses import dataclass

from defusedxml import DefusedXmlException, ElementTree
from werkzeug.wrappers import Request, Response

from canalis.sandbox.emulators.salesforce.wire import ORG_ID, USER_ID, soap_fault, soap_login_response
from canalis.sandbox.objectstore import ObjectStore
from canalis.sandbox.server.emulator import json_response

SESSIONS_KEY = "salesforce:sessions"
MAX_SESSIONS = 500


@dataclass(frozen=True)
class SandboxCredentials:
    """The credentials that open the Salesforce sandbox (they open nothing else, so they are not secrets)."""

    username: str = "integration@canalis-sandbox.example"
    password: str = "sandbox-password"  # noqa: S105 - sandbox-only
    security_token: str = "SANDBOXSECURITYTOKEN"  # noqa: S105 - sandbox-only
    client_id: str = "canalis-sandbox-consumer-key"
    client_secret: str = "canalis-sandbox-consumer-secret"  # noqa: S105 - sandbox-only
    access_token: str = f"{ORG_ID}!canalis-sandbox-access-token"

    def as_dict(self) -> dict[str, str]:
        return {
            "username": self.username,
            "password": self.password,
            "security_token": self.security_token,
            "client_id": self.client_id,
            "client_secret": self.client_secret,
            "access_token": self.access_token,
        }


class Sessions:
    """Session ids issued by the logins, kept in the object store so they survive a restart."""

    def __init__(self, store: ObjectStore, credentials: SandboxCredentials) -> None:
        self.store = store
        self.credentials = credentials

    def issue(self) -> str:
        token = f"{ORG_ID}!{secrets.token_urlsafe(48)}"
        issued = [*self.store.kv_get(SESSIONS_KEY, []), token][-MAX_SESSIONS:]
        self.store.kv_put(SESSIONS_KEY, issued)
        return token

    def valid(self, token: str) -> bool:
        if hmac.compare_digest(token, self.credentials.access_token):
            return True
        return token in self.store.kv_get(SESSIONS_KEY, [])

    def expire_all(self) -> None:
        """Forget every issued session (the fixed sandbox access token stays valid)."""
        self.store.kv_delete(SESSIONS_KEY)


def bearer_token(request: Request) -> str | None:
    """The token of an `Authorization: Bearer ...` (or `OAuth ...`) header."""
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() in ("bearer", "oauth") and token.strip():
        return token.strip()
    return None


def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


def soap_login(request: Request, sessions: Sessions, instance_url: str, version: str) -> Response:
    """POST /services/Soap/u/<version>: the partner API login with username and password + security token."""
    try:
        root = ElementTree.fromstring(request.get_data(), forbid_dtd=True)
    except (ElementTree.ParseError, DefusedXmlException):
        return soap_fault("INVALID_REQUEST", "Unable to parse the SOAP request", fault_type="UnexpectedErrorFault")
    values = {_local(element.tag): (element.text or "") for element in root.iter()}
    if "login" not in values:
        return soap_fault("INVALID_OPERATION", "No operation available for request", fault_type="UnexpectedErrorFault")
    credentials = sessions.credentials
    expected = credentials.password + credentials.security_token
    if values.get("username") != credentials.username or not hmac.compare_digest(values.get("password", ""), expected):
        return soap_fault("INVALID_LOGIN", "Invalid username, password, security token; or user locked out.")
    return soap_login_response(sessions.issue(), instance_url, version, credentials.username)


def oauth_token(request: Request, sessions: Sessions, instance_url: str) -> Response:
    """POST /services/oauth2/token: the username-password and client-credentials grants."""
    credentials = sessions.credentials
    form = request.form
    grant = form.get("grant_type", "")
    client_id, client_secret = form.get("client_id"), form.get("client_secret")
    basic = request.authorization
    if basic is not None and basic.type == "basic":
        client_id, client_secret = basic.username, basic.password
    if grant not in ("password", "client_credentials"):
        return json_response({"error": "unsupported_grant_type", "error_description": "grant type not supported"}, 400)
    if client_id != credentials.client_id:
        return json_response({"error": "invalid_client_id", "error_description": "client identifier invalid"}, 400)
    if not hmac.compare_digest(client_secret or "", credentials.client_secret):
        return json_response({"error": "invalid_client", "error_description": "invalid client credentials"}, 400)
    if grant == "password":
        password = form.get("password", "")
        accepted = {credentials.password + credentials.security_token, credentials.password}
        if form.get("username") != credentials.username or password not in accepted:
            return json_response({"error": "invalid_grant", "error_description": "authentication failure"}, 400)
    token = sessions.issue()
    issued_at = str(int(time.time() * 1000))
    identity = f"{instance_url}/id/{ORG_ID}/{USER_ID}"
    signature = hmac.new(credentials.client_secret.encode(), (identity + issued_at).encode(), hashlib.sha256).digest()
    return json_response(
        {
            "access_token": token,
            "instance_url": instance_url,
            "id": identity,
            "token_type": "Bearer",
            "issued_at": issued_at,
            "signature": base64.b64encode(signature).decode(),
        }
    )
