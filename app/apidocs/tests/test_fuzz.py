"""Fuzz the HTTP API from its own OpenAPI schema (schemathesis, issue 12): whatever body, query or
path parameter a client sends, no endpoint answers 500, and any other 5xx is one the schema
documents (503 from the health report, the token store, the channel layer).

In process: the schema comes from drf-spectacular's generator, the requests go through Django's
WSGI handler into the test database, with a fresh token of a real user for each request (some
operations revoke theirs). A fixed number of examples per operation, derandomized: the same
requests on every run, a couple of seconds in all.
"""

import json

import pytest
import schemathesis
from django.core.signals import request_finished, request_started
from django.core.wsgi import get_wsgi_application
from django.db import close_old_connections
from drf_spectacular.generators import SchemaGenerator
from hypothesis import HealthCheck, settings

EXAMPLES_PER_OPERATION = 25

raw_schema = json.loads(json.dumps(SchemaGenerator().get_schema(request=None, public=True), default=str))
schema = schemathesis.openapi.from_dict(raw_schema)
schema.app = get_wsgi_application()


@pytest.fixture
def fuzz_user(make_user):
    """A member of a conversation, with a notification: ids 1.. exist for the fuzzer to hit."""
    from chat.models import Conversation
    from notifications.models import Notification

    user = make_user("fuzzer", is_staff=True)
    other = make_user("other")
    conversation = Conversation.objects.create(title="fuzz")
    conversation.members.add(user, other)
    notification = Notification.objects.create(recipient=user, title="hello")
    user.real_ids = {"conversation_id": conversation.pk, "id": notification.pk}
    return user


@pytest.fixture(autouse=True)
def one_connection_per_test():
    """Django's test client does this too: a request's end must not close the test's transaction."""
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    yield
    request_started.connect(close_old_connections)
    request_finished.connect(close_old_connections)


@pytest.mark.fuzz
@pytest.mark.django_db
@schema.parametrize()
@settings(
    max_examples=EXAMPLES_PER_OPERATION,
    derandomize=True,
    database=None,
    deadline=None,
    suppress_health_check=list(HealthCheck),
)
def test_no_server_error(case, fuzz_user):
    from tokens.store import issue_token

    token = issue_token(fuzz_user).value
    for name, real in fuzz_user.real_ids.items():
        # Random ids are all 404s: half of the cases use ids that exist, to reach the handlers.
        value = (case.path_parameters or {}).get(name)
        if isinstance(value, int) and value % 2 == 0:
            case.path_parameters[name] = real
    response = case.call(headers={"Authorization": f"Token {token}"})
    # Schemathesis also tries methods an operation does not have (405 expected).
    documented = raw_schema["paths"][case.operation.path].get(case.method.lower(), {}).get("responses", {})
    assert response.status_code != 500, case.as_curl_command()
    if response.status_code >= 500:
        assert str(response.status_code) in documented, (response.status_code, case.as_curl_command())
