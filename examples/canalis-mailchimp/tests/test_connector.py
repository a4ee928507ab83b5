"""The Mailchimp connector's conformance: the Canalis suite over the recorded answers in responses/."""

from pathlib import Path

from canalis_mailchimp import MailchimpConnector

from canalis.testing import connector_test_class

SETTINGS = {
    "api_key": "0123456789abcdef0123456789abcdef-us21",
    "list_id": "abc123def4",
    "page_size": 2,
    "batch_size": 2,
    "requests_per_second": 0,
}
CONSENTS = [{"key": f"member-{n}", "email": f"person{n}@example.org", "status": "denied"} for n in range(5)]
TAGS = [{"key": f"member-{n}", "email": f"person{n}@example.org", "tags": {"VIP": n % 2 == 0}} for n in range(5)]

TestMailchimpConnector = connector_test_class(
    MailchimpConnector,
    settings=SETTINGS,
    responses=Path(__file__).parent / "responses",
    writes={"consents": CONSENTS, "tags": TAGS},
)
