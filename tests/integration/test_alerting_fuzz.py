"""Property-based fuzzing of the published OpenAPI document (schemathesis): valid and
invalid requests to every operation of a real replica; no 5xx, every answer as documented."""
from __future__ import annotations

import secrets
from collections.abc import Iterator

import pytest
import schemathesis
from schemathesis import GenerationMode
from schemathesis.core.parameters import ParameterLocation
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    ignored_auth,
    negative_data_rejection,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
    unsupported_method,
)
from test_alerting_service import Replica


pytestmark = pytest.mark.integration

# One token in every role, so that every operation is reached past its role check
# (role refusals have their own tests); ignored_auth still checks each without a token.
ALL_ROLES_TOKEN = secrets.token_urlsafe(16)
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    negative_data_rejection,
    ignored_auth,
    unsupported_method,
]


@pytest.fixture(scope="module")
def fuzz_db(stack_db) -> Iterator[str]:
    """Its own database: fuzzed alerts land on any day, where other tests count theirs."""
    from tests.conftest import migrated_database

    with migrated_database(stack_db["ALERTS_DB_DSN"], "alerts") as dsn:
        yield dsn


OPERATIONS = [
    ("GET", "/healthz"), ("GET", "/readyz"), ("POST", "/v1/alerts"), ("GET", "/v1/alerts"),
    ("GET", "/v1/alerts/{alert_id}"), ("PATCH", "/v1/alerts/{alert_id}"), ("GET", "/v1/alerts/{alert_id}/reviews"),
    ("GET", "/v1/alerts/{alert_id}/revisions"), ("POST", "/v1/days/{date}/runs/{run_id}/complete"),
    ("GET", "/v1/reviews"),
]
EXAMPLES = 40  # per operation and mode: ~650 requests, well under a minute


@pytest.fixture(scope="module")
def api_schema(fuzz_db, tmp_path_factory):
    replica = Replica(
        fuzz_db, tmp_path_factory.mktemp("fuzz") / "replica.log",
        ALERTS_PIPELINE_TOKENS=ALL_ROLES_TOKEN, ALERTS_REVIEWER_TOKENS=ALL_ROLES_TOKEN,
        ALERTS_RATE_LIMIT_PER_SECOND="0",  # fuzzing is a flood by design
    )
    yield schemathesis.openapi.from_url(f"{replica.url}/openapi.json")
    replica.stop()




def test_the_fuzzed_operations_are_all_there_are(api_schema):
    published = {(op.ok().method.upper(), op.ok().path) for op in api_schema.get_all_operations()}
    assert published == set(OPERATIONS)


# Operations that take no input have no invalid requests to make.
CASES = [(method, path, mode) for method, path in OPERATIONS for mode in GenerationMode
         if mode is GenerationMode.POSITIVE or path.startswith("/v1/")]


# (schemathesis' own pytest plugin does not run on pytest 9 yet, hence the explicit @given)
@pytest.mark.parametrize(("method", "path", "mode"), CASES, ids=lambda v: str(v))
def test_every_operation_answers_as_documented(api_schema, method, path, mode):
    operation = api_schema[path][method]

    @given(case=operation.as_strategy(generation_mode=mode))
    @settings(max_examples=EXAMPLES, deadline=None, database=None,
              suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])
    def fuzz(case):
        # The token is set on the case itself (not passed per call) so that schemathesis
        # re-checks what the request now is; a case that leaves the token out on purpose
        # keeps it out and must be refused.
        if not case.meta.is_negative_at(ParameterLocation.HEADER):
            case.headers = {**(case.headers or {}), "Authorization": f"Bearer {ALL_ROLES_TOKEN}"}
        case.call_and_validate(checks=CHECKS, timeout=30)

    fuzz()
