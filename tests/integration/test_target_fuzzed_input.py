"""Property-based test: no input, however random or truncated, makes the target crash blindly."""

from __future__ import annotations

import io
import json
import typing as t
import uuid

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mongodb_common.cli_errors import ConnectorError
from mongodb_common.client_factory import create_client

MESSAGES = [
    '{"type": "SCHEMA", "stream": "s", "schema": {"type": "object", "properties": '
    '{"_id": {"type": "integer"}, "v": {"type": ["string", "null"]}}}, "key_properties": ["_id"]}',
    '{"type": "RECORD", "stream": "s", "record": {"_id": 1, "v": "a"}}',
    '{"type": "STATE", "value": {"bookmarks": {"s": {}}}}',
    '{"type": "RECORD", "stream": "s", "record": {"_id": 2, "v": null}}',
    '{"type": "ACTIVATE_VERSION", "stream": "s", "version": 5}',
]


@pytest.fixture(scope="module")
def target_config(mongodb_uri: str) -> t.Iterator[dict]:
    database = f"fuzz_{uuid.uuid4().hex[:8]}"
    yield {"mongodb_uri": mongodb_uri, "database": database}
    client = create_client({"mongodb_uri": mongodb_uri})
    client.drop_database(database)
    client.close()


def _mutated_inputs() -> st.SearchStrategy[str]:
    lines = st.lists(st.sampled_from(MESSAGES), min_size=1, max_size=6)
    junk = st.one_of(
        st.text(max_size=40),
        st.from_regex(r'\{"type": "(RECORD|SCHEMA|STATE|X)"', fullmatch=True),
        st.builds(
            json.dumps,
            st.recursive(
                st.none() | st.integers() | st.text(max_size=5),
                lambda c: st.lists(c) | st.dictionaries(st.text(max_size=5), c),
                max_leaves=8,
            ),
        ),
    )

    @st.composite
    def build(draw: st.DrawFn) -> str:
        chosen = draw(lines)
        position = draw(st.integers(0, len(chosen)))
        chosen.insert(position, draw(junk))
        text = "\n".join(chosen) + "\n"
        cut = draw(st.integers(0, len(text)))
        return text[:cut] if draw(st.booleans()) else text

    return build()


@settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture]
)
@given(text=_mutated_inputs())
def test_random_and_truncated_input_only_ever_fails_with_a_clear_error(target_config: dict, text: str) -> None:
    from target_mongodb.target import TargetMongoDB

    error: ConnectorError | None = None
    try:
        TargetMongoDB(config=target_config).listen(io.StringIO(text))
    except ConnectorError as exc:  # anything else fails the test: it would be a bare traceback
        error = exc
    if error is not None:
        assert "line" in str(error) or "stream" in str(error), str(error)
