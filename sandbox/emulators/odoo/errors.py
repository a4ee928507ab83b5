"""The exceptions the emulated Odoo server raises, with how each protocol reports them."""

from __future__ import annotations

from typing import ClassVar

# XML-RPC /xmlrpc/2 fault codes.
FAULT_APPLICATION = 1
FAULT_WARNING = 2
FAULT_ACCESS_DENIED = 3
FAULT_ACCESS_ERROR = 4


class OdooError(Exception):
    """An error of the emulated server: its Python name, XML-RPC fault code and JSON-2 HTTP status."""

    name: ClassVar[str] = "odoo.exceptions.UserError"
    fault_code: ClassVar[int] = FAULT_APPLICATION
    http_status: ClassVar[int] = 500

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

    @property
    def arguments(self) -> list[object]:
        """The exception's arguments as Odoo serialises them."""
        return [self.message]

    def fault_string(self) -> str:
        """The faultString of an XML-RPC fault: the message, or a short traceback for application errors."""
        if self.fault_code == FAULT_APPLICATION:
            short = self.name.rsplit(".", 1)[-1]
            return f"Traceback (most recent call last):\n  (sandbox)\n{short}: {self.message}\n"
        return self.message


class AccessDenied(OdooError):
    """Wrong login, password or API key."""

    name = "odoo.exceptions.AccessDenied"
    fault_code = FAULT_ACCESS_DENIED
    http_status = 401

    def __init__(self, message: str = "Access Denied") -> None:
        super().__init__(message)


class AccessError(OdooError):
    """Missing access right, or a private method called remotely."""

    name = "odoo.exceptions.AccessError"
    fault_code = FAULT_ACCESS_ERROR
    http_status = 403


class UserError(OdooError):
    """A business error shown to the user."""

    name = "odoo.exceptions.UserError"
    fault_code = FAULT_WARNING
    http_status = 422


class ValidationError(UserError):
    """A constraint refused the values."""

    name = "odoo.exceptions.ValidationError"


class MissingError(UserError):
    """Records that do not exist (any more)."""

    name = "odoo.exceptions.MissingError"
    http_status = 404


class OdooValueError(OdooError):
    """A malformed domain, unknown field or bad argument value (Python ValueError on the server)."""

    name = "builtins.ValueError"
    fault_code = FAULT_APPLICATION
    http_status = 422


class OdooTypeError(OdooError):
    """Arguments that do not fit the method's signature (Python TypeError on the server)."""

    name = "builtins.TypeError"
    fault_code = FAULT_APPLICATION
    http_status = 422


class UnknownModel(OdooError):
    """A model that is not installed."""

    name = "odoo.exceptions.UserError"
    fault_code = FAULT_WARNING
    http_status = 404


class UnknownMethod(OdooError):
    """A method the model does not have."""

    name = "builtins.AttributeError"
    fault_code = FAULT_APPLICATION
    http_status = 404
