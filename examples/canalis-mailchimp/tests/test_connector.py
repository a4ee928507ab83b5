"""The Mailchimp connector's tests: the Canalis conformance suite over the recorded answers in responses/.

Add your own edge cases below; the suite already covers settings, the connection test, full, incremental and
resumed reads, retries, malformed records, secrets, batched and idempotent writes and the mapping.
"""

from pathlib import Path

from canalis.testing import connector_test_class
from canalis_mailchimp import MailchimpConnector

SAMPLE_CONSENTS = [{"key": f"contact-{n}", "email": f"person{n}@example.org", "status": "denied"} for n in range(5)]

TestMailchimpConnector = connector_test_class(
    MailchimpConnector,
    settings={"api_token": "test-token-not-a-secret", "page_size": 2, "batch_size": 2},
    responses=Path(__file__).parent / "responses",
    writes={"consents": SAMPLE_CONSENTS},
)
