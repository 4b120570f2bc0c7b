"""schemathesis against the live server's own OpenAPI schema (/api/schema/), with a valid
key: for every operation, generated requests (valid and invalid) never get a 5xx, and
every response matches what the schema promises (status codes, content types, bodies)."""

from __future__ import annotations

import pytest

from tests.integration.api_support import new_key

schemathesis = pytest.importorskip("schemathesis")
hypothesis = pytest.importorskip("hypothesis")

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]

EXAMPLES = 15  # per operation; ask runs the whole answer step, so a few seconds each
CHECKS = ("not_a_server_error", "status_code_conformance", "content_type_conformance",
          "response_headers_conformance", "response_schema_conformance")


def conformance_checks():
    from schemathesis.checks import CHECKS as REGISTRY

    return [REGISTRY.get_one(name) for name in CHECKS]


def test_every_operation_keeps_to_its_schema(server, owner, kb_a, kb_b):
    key = new_key(owner, [kb_a], operations=("ask", "search", "documents"))
    schema = schemathesis.openapi.from_url(f"{server}/api/schema/")
    checks = conformance_checks()
    operations = [result.ok() for result in schema.get_all_operations()]
    assert {op.path for op in operations} >= {"/api/v1/ask", "/api/v1/search"}
    for operation in operations:
        run_operation(operation, key, checks)


def run_operation(operation, key: str, checks) -> None:
    @hypothesis.settings(max_examples=EXAMPLES, deadline=None, database=None,
                         suppress_health_check=list(hypothesis.HealthCheck),
                         phases=[hypothesis.Phase.explicit, hypothesis.Phase.generate])
    @hypothesis.given(case=operation.as_strategy())
    def check(case) -> None:
        case.call_and_validate(headers={"Authorization": f"Bearer {key}"}, checks=checks,
                               timeout=120)

    check()
