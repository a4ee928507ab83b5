"""Logging in to Salesforce: the partner SOAP login (username, password + security token) and OAuth token flows."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from html import escape
from xml.parsers.expat import ExpatError

import requests
from defusedxml import DefusedXmlException
from defusedxml import minidom as defused_minidom

from canalis.connectors.salesforce.settings import AuthPlan, SalesforceSettings
from canalis.sdk import ApiError, ConfigError, HttpClient, error_message, response_cap

SYSTEM = "salesforce"
CLIENT_NAME = "canalis"


@dataclass(frozen=True)
class Session:
    """A logged-in session: the bearer token and the instance URL the REST API lives at."""

    token: str
    instance_url: str

    def __repr__(self) -> str:
        return f"Session(instance_url={self.instance_url!r})"


def login(
    settings: SalesforceSettings,
    plan: AuthPlan,
    *,
    connection: str,
    session: requests.Session | None = None,
    sleep: Callable[[float], None] = time.sleep,
) -> Session:
    """Log in with the flow the settings describe and return the session."""
    if plan.flow == "access_token":
        assert settings.access_token is not None and settings.instance_url is not None
        return Session(settings.access_token.get_secret_value(), settings.instance_url)
    secrets = [
        value.get_secret_value()
        for value in (settings.password, settings.security_token, settings.client_secret)
        if value is not None
    ]
    client = HttpClient(
        SYSTEM,
        settings.login_host,
        timeout=(10.0, settings.timeout_seconds),
        max_attempts=settings.max_attempts,
        max_response_bytes=response_cap(settings),
        secrets=secrets,
        session=session,
        sleep=sleep,
    )
    if plan.flow == "soap_password":
        found = _soap_login(client, settings, connection, sleep)
    else:
        found = _oauth_login(client, settings, plan, connection)
    return Session(found.token, settings.instance_url or found.instance_url)


def _soap_body(settings: SalesforceSettings) -> str:
    password = settings.password.get_secret_value() if settings.password else ""
    token = settings.security_token.get_secret_value() if settings.security_token else ""
    return (
        '<?xml version="1.0" encoding="utf-8" ?>'
        '<env:Envelope xmlns:xsd="http://www.w3.org/2001/XMLSchema" '
        'xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" '
        'xmlns:env="http://schemas.xmlsoap.org/soap/envelope/" xmlns:urn="urn:partner.soap.sforce.com">'
        f"<env:Header><urn:CallOptions><urn:client>{CLIENT_NAME}</urn:client></urn:CallOptions></env:Header>"
        '<env:Body><n1:login xmlns:n1="urn:partner.soap.sforce.com">'
        f"<n1:username>{escape(settings.username or '')}</n1:username>"
        f"<n1:password>{escape(password + token)}</n1:password>"
        "</n1:login></env:Body></env:Envelope>"
    )


def _soap_login(
    client: HttpClient, settings: SalesforceSettings, connection: str, sleep: Callable[[float], None]
) -> Session:
    """POST the partner login; a SOAP fault (HTTP 500 with an exceptionCode) is a settings problem, not retried."""
    call = "POST /services/Soap/u (login)"
    headers = {"Content-Type": "text/xml; charset=UTF-8", "SOAPAction": "login", "Accept": "text/xml"}
    for attempt in range(1, settings.max_attempts + 1):
        response = client.request(
            "POST",
            f"services/Soap/u/{settings.api_version}",
            data=_soap_body(settings).encode(),
            headers=headers,
            call=call,
            ok_statuses={500},
        )
        code, message = _soap_fault(response)
        if response.status_code == 500 and code is None:
            if attempt == settings.max_attempts:
                raise ApiError(
                    system=SYSTEM, call=call, status=500, detail=client.redact(error_message(response)), retryable=True
                )
            sleep(min(30.0, 0.5 * 2**attempt))
            continue
        if code is not None:
            raise ConfigError(
                f"connection '{connection}': Salesforce refused the login ({code}: {client.redact(message or '')}); "
                "check settings 'username', 'password' and 'security_token'",
                setting="password",
                connection=connection,
            )
        session_id = _xml_value(response.content, "sessionId")
        server_url = _xml_value(response.content, "serverUrl")
        if not session_id or not server_url:
            raise ApiError(
                system=SYSTEM,
                call=call,
                status=response.status_code,
                detail="login answer has no sessionId or serverUrl",
            )
        return Session(session_id, server_url.split("/services/", 1)[0])
    raise AssertionError("unreachable")  # pragma: no cover


def _xml_value(content: bytes, name: str) -> str | None:
    """The text of the first element called `name` in a SOAP answer, parsed without DTDs or entities (a
    hostile answer cannot expand or fetch anything); None when there is none or the answer is not XML."""
    try:
        document = defused_minidom.parseString(content, forbid_dtd=True)
    except (ExpatError, DefusedXmlException):
        return None
    found = document.getElementsByTagName(name)
    if not found:
        return None
    return "".join(node.data for node in found[0].childNodes if node.nodeType == node.TEXT_NODE)


def _soap_fault(response: requests.Response) -> tuple[str | None, str | None]:
    """The exceptionCode and exceptionMessage of a SOAP fault, if the answer is one."""
    if b"Fault" not in response.content:
        return None, None
    code = _xml_value(response.content, "sf:exceptionCode")
    message = _xml_value(response.content, "sf:exceptionMessage")
    if code is None:
        fault = _xml_value(response.content, "faultcode")
        code = fault.split(":")[-1] if fault else None
        message = _xml_value(response.content, "faultstring")
    return code, message


_SETTING_FOR_OAUTH_ERROR = {
    "invalid_client_id": "client_id",
    "invalid_client": "client_secret",
    "invalid_grant": "password",
    "unsupported_grant_type": "login_url",
    "inactive_user": "username",
}


def _oauth_login(client: HttpClient, settings: SalesforceSettings, plan: AuthPlan, connection: str) -> Session:
    """POST /services/oauth2/token with the username-password or client-credentials grant."""
    assert settings.client_id is not None and settings.client_secret is not None
    form: dict[str, str] = {
        "client_id": settings.client_id,
        "client_secret": settings.client_secret.get_secret_value(),
    }
    if plan.flow == "oauth_password":
        password = settings.password.get_secret_value() if settings.password else ""
        token = settings.security_token.get_secret_value() if settings.security_token else ""
        form.update(grant_type="password", username=settings.username or "", password=password + token)
    else:
        form["grant_type"] = "client_credentials"
    response = client.request(
        "POST", "services/oauth2/token", data=form, call="POST /services/oauth2/token", ok_statuses={400, 401}
    )
    body = client.decode_json(response, call="POST /services/oauth2/token") or {}
    if response.status_code in (400, 401):
        code = str(body.get("error") or "invalid_request")
        name = _SETTING_FOR_OAUTH_ERROR.get(code, "client_id")
        raise ConfigError(
            f"connection '{connection}': Salesforce refused the OAuth login ({code}: "
            f"{client.redact(str(body.get('error_description') or ''))}); check setting '{name}'",
            setting=name,
            connection=connection,
        )
    token_value, instance_url = body.get("access_token"), body.get("instance_url")
    if not token_value or not instance_url:
        raise ApiError(
            system=SYSTEM,
            call="POST /services/oauth2/token",
            status=response.status_code,
            detail="token answer has no access_token or instance_url",
        )
    return Session(str(token_value), str(instance_url).rstrip("/"))
