"""Salesforce's wire shapes: REST error arrays, SOAP login answers and faults, supported API versions."""

from __future__ import annotations

import re
from typing import Any
from xml.sax.saxutils import escape

from werkzeug.wrappers import Response

from canalis.sandbox.server.emulator import json_response

ORG_ID = "00D5g0000000SBXEAM"
USER_ID = "0055g0000000SBXAAM"
MIN_VERSION = 31
MAX_VERSION = 63
_VERSION = re.compile(r"^(\d{2})\.0$")
_SEASONS = ("Winter", "Spring", "Summer")


def supported_version(text: str) -> bool:
    """Whether an API version (without the leading v) is one the emulator serves."""
    match = _VERSION.match(text)
    return bool(match) and MIN_VERSION <= int(match.group(1)) <= MAX_VERSION  # type: ignore[union-attr]


def version_list() -> list[dict[str, str]]:
    """The body of GET /services/data: every version with its release label."""
    versions = []
    for number in range(MIN_VERSION, MAX_VERSION + 1):
        offset = number - 50
        label = f"{_SEASONS[offset % 3]} '{21 + offset // 3:02d}"
        versions.append({"label": label, "url": f"/services/data/v{number}.0", "version": f"{number}.0"})
    return versions


def error(
    code: str, message: str, status: int, *, fields: list[str] | None = None, headers: dict[str, str] | None = None
) -> Response:
    """A REST error answer: a JSON array of {message, errorCode[, fields]}."""
    body: dict[str, Any] = {"message": message, "errorCode": code}
    if fields is not None:
        body["fields"] = fields
    return json_response([body], status, headers=headers)


def not_found() -> Response:
    return error("NOT_FOUND", "The requested resource does not exist", 404)


def invalid_session() -> Response:
    return error("INVALID_SESSION_ID", "Session expired or invalid", 401)


def soap_login_response(session_id: str, instance_url: str, version: str, username: str) -> Response:
    """The partner API's loginResponse, with the fields simple-salesforce and other clients read."""
    server_url = f"{instance_url}/services/Soap/u/{version}/{ORG_ID}"
    body = (
        '<?xml version="1.0" encoding="UTF-8"?>'
        '<soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/" '
        'xmlns="urn:partner.soap.sforce.com" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">'
        "<soapenv:Body><loginResponse><result>"
        f"<metadataServerUrl>{escape(instance_url)}/services/Soap/m/{version}/{ORG_ID}</metadataServerUrl>"
        "<passwordExpired>false</passwordExpired><sandbox>true</sandbox>"
        f"<serverUrl>{escape(server_url)}</serverUrl>"
        f"<sessionId>{escape(session_id)}</sessionId>"
        f"<userId>{USER_ID}</userId>"
        "<userInfo><accessibilityMode>false</accessibilityMode><currencySymbol>€</currencySymbol>"
        f"<orgDefaultCurrencyIsoCode>EUR</orgDefaultCurrencyIsoCode><organizationId>{ORG_ID}</organizationId>"
        "<organizationMultiCurrency>false</organizationMultiCurrency>"
        "<organizationName>Canalis Sandbox</organizationName>"
        f"<userEmail>{escape(username)}</userEmail><userFullName>Canalis Sandbox</userFullName>"
        f"<userId>{USER_ID}</userId><userLanguage>en_US</userLanguage><userName>{escape(username)}</userName>"
        "<userTimeZone>Europe/Paris</userTimeZone></userInfo>"
        "</result></loginResponse></soapenv:Body></soapenv:Envelope>"
    )
    return Response(body, status=200, content_type="text/xml; charset=utf-8")


def soap_fault(code: str, message: str, *, fault_type: str = "LoginFault") -> Response:
    """A SOAP fault as the partner API sends it (HTTP 500)."""
    body = (
        '<?xml version="1.0" encoding="UTF-8"?>'
        '<soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/" '
        'xmlns:sf="urn:fault.partner.soap.sforce.com" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">'
        "<soapenv:Body><soapenv:Fault>"
        f"<faultcode>sf:{code}</faultcode><faultstring>{code}: {escape(message)}</faultstring>"
        f'<detail><sf:{fault_type} xsi:type="sf:{fault_type}">'
        f"<sf:exceptionCode>{code}</sf:exceptionCode><sf:exceptionMessage>{escape(message)}</sf:exceptionMessage>"
        f"</sf:{fault_type}></detail>"
        "</soapenv:Fault></soapenv:Body></soapenv:Envelope>"
    )
    return Response(body, status=500, content_type="text/xml; charset=utf-8")
