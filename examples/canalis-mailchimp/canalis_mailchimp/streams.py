"""Streams of the Mailchimp connector, declared: the SDK reads them (offset paging, incremental bound, resume).

Members are read in Mailchimp's own order (offsets stay put while members change) with `since_last_changed`;
campaign activity and unsubscribes are read per sent campaign of the audience.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, StrictStr

from canalis.sdk import Connector, OffsetPagination, ParentPartitions, RestStream, WriteOnlyStream

PAGING = OffsetPagination(limit="{page_size}", offset_param="offset", limit_param="count", total_path="total_items")
CAMPAIGNS = ParentPartitions(stream="campaigns", field="id", name="campaign_id")


class MemberRecord(BaseModel):
    """What an audience member must hold to be stored."""

    model_config = ConfigDict(extra="allow")

    id: StrictStr
    email_address: StrictStr
    status: Literal["subscribed", "unsubscribed", "cleaned", "pending", "transactional", "archived"]
    last_changed: StrictStr


class Members(RestStream):
    name = "members"
    description = "Audience members with merge fields, tags and marketing permissions; incremental on last_changed."
    path = "/lists/{list_id}/members"
    params = {"exclude_fields": "_links,members._links"}
    records_path = "members"
    primary_key = "id"
    cursor_field = "last_changed"
    cursor_param = "since_last_changed"
    paginator = PAGING
    record_model = MemberRecord
    # merge_fields and interests hold the audience's own fields and groups: open by nature
    field_paths = (
        "id", "email_address", "unique_email_id", "contact_id", "full_name", "web_id", "email_type", "status",
        "unsubscribe_reason", "consents_to_one_to_one_messaging", "merge_fields.*", "interests.*", "stats.*",
        "ip_signup", "timestamp_signup", "ip_opt", "timestamp_opt", "member_rating", "last_changed", "language",
        "vip", "email_client", "location.*", "marketing_permissions.marketing_permission_id",
        "marketing_permissions.text", "marketing_permissions.enabled", "source", "tags_count", "tags.id",
        "tags.name", "list_id", "last_note.*",
    )  # fmt: skip


class Campaigns(RestStream):
    name = "campaigns"
    description = "Campaigns sent to the audience (read whole: they are few, and their reports change)."
    path = "/campaigns"
    params = {
        "status": "sent",
        "list_id": "{list_id}",
        "sort_field": "send_time",
        "sort_dir": "ASC",
        "exclude_fields": "_links,campaigns._links",
    }
    records_path = "campaigns"
    primary_key = "id"
    paginator = PAGING
    field_paths = (
        "id", "web_id", "type", "create_time", "send_time", "status", "emails_sent", "content_type",
        "archive_url", "long_archive_url", "recipients.*", "settings.*", "tracking.*", "report_summary.*",
        "delivery_status.*", "parent_campaign_id", "needs_block_refresh", "resendable",
    )  # fmt: skip

    @classmethod
    def prepare(cls, connector: Connector, records: list[Any], partition: dict[str, Any]) -> list[Any]:
        since = getattr(connector.settings, "campaigns_since", None)
        if since is None:
            return records
        return [r for r in records if not isinstance(r, dict) or str(r.get("send_time", ""))[:10] >= since.isoformat()]


class EmailActivity(RestStream):
    name = "email_activity"
    description = "Opens, clicks and bounces of each sent campaign, one record per action; incremental on timestamp."
    path = "/reports/{campaign_id}/email-activity"
    params = {"exclude_fields": "_links,emails._links"}
    records_path = "emails"
    partitions = CAMPAIGNS
    primary_key = "_key"
    cursor_field = "timestamp"
    cursor_param = "since"
    paginator = PAGING
    field_paths = (
        "_key", "campaign_id", "list_id", "list_is_active", "email_id", "email_address", "action", "type",
        "timestamp", "url", "ip",
    )  # fmt: skip

    @classmethod
    def prepare(cls, connector: Connector, records: list[Any], partition: dict[str, Any]) -> list[Any]:
        """One record per action: Mailchimp lists each email with all its actions in `activity`."""
        flat: list[Any] = []
        for email in records:
            if not isinstance(email, dict):
                flat.append(email)
                continue
            base = {key: value for key, value in email.items() if key != "activity"}
            for action in email.get("activity") or []:
                record = {**base, **action}
                record["_key"] = ":".join(str(record.get(part)) for part in ("campaign_id", "email_id", "action"))
                record["_key"] += f":{record.get('timestamp')}"
                flat.append(record)
        return flat


class Unsubscribes(RestStream):
    name = "unsubscribes"
    description = "Members who unsubscribed from a sent campaign, with their reason; incremental on timestamp."
    path = "/reports/{campaign_id}/unsubscribed"
    params = {"exclude_fields": "_links,unsubscribes._links"}
    records_path = "unsubscribes"
    partitions = CAMPAIGNS
    primary_key = "_key"
    cursor_field = "timestamp"
    paginator = PAGING
    field_paths = (
        "_key", "email_id", "email_address", "merge_fields.*", "vip", "timestamp", "reason", "campaign_id",
        "list_id", "list_is_active",
    )  # fmt: skip

    @classmethod
    def prepare(cls, connector: Connector, records: list[Any], partition: dict[str, Any]) -> list[Any]:
        """The key of an unsubscribe: its campaign and member."""
        for record in records:
            if isinstance(record, dict) and record.get("email_id"):
                record["_key"] = f"{record.get('campaign_id')}:{record['email_id']}"
        return records


class Consents(WriteOnlyStream):
    name = "consents"
    description = "Write-only: email marketing consent (denied unsubscribes; granted subscribes unless Mailchimp's "
    "compliance state forbids it), in batch updates."
    batch_size = 500
    batch_path = "members"


class Tags(WriteOnlyStream):
    name = "tags"
    description = "Write-only: tags of a member ({key, email, tags: {name: true/false}}), one call per member."
    batch_size = 1


STREAMS = (Members, Campaigns, EmailActivity, Unsubscribes, Consents, Tags)
