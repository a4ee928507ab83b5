"""One alert: what failed, where to look. It carries names and identifiers only, never data values or error text,
so no personal value or secret a vendor's message might quote can leak into a mailbox or a chat."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field


class Alert(BaseModel):
    """A failed run or a failed check."""

    model_config = ConfigDict(frozen=True)

    kind: Literal["run_failure", "check_failure"]
    job: str = Field(description="job name")
    run_id: str
    location: str | None = Field(default=None, description="code location")
    failed_steps: list[str] = Field(default_factory=list, description="step keys that failed")
    error_types: list[str] = Field(default_factory=list, description="exception class names, no messages")
    asset: str | None = Field(default=None, description="asset key of a failed check")
    check: str | None = Field(default=None, description="name of a failed check")
    severity: str | None = Field(default=None, description="severity of a failed check")
    run_url: str | None = Field(default=None, description="the run in the Dagster UI")

    @property
    def subject(self) -> str:
        if self.kind == "check_failure":
            return f"[canalis] check {self.check} failed on {self.asset} ({self.severity})"
        return f"[canalis] run of {self.job} failed"

    def text(self) -> str:
        """The alert as plain text, one fact a line."""
        lines = [self.subject, "", f"job: {self.job}", f"run: {self.run_id}"]
        if self.location:
            lines.append(f"code location: {self.location}")
        if self.failed_steps:
            lines.append(f"failed steps: {', '.join(self.failed_steps)}")
        if self.error_types:
            lines.append(f"errors: {', '.join(self.error_types)}")
        if self.asset:
            lines.append(f"asset: {self.asset}")
        if self.check:
            lines.append(f"check: {self.check} ({self.severity})")
        lines.append(f"details: {self.run_url}" if self.run_url else "details: the run's page in the Dagster UI")
        return "\n".join(lines)

    def document(self) -> dict:
        """The alert as the JSON document a webhook receives."""
        return {"source": "canalis", "subject": self.subject, **self.model_dump(mode="json")}


def run_url(ui_url: str | None, run_id: str) -> str | None:
    """The link to a run in the UI, when its base URL is configured."""
    return f"{ui_url.rstrip('/')}/runs/{run_id}" if ui_url else None
