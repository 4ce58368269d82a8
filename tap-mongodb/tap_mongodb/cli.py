"""The `tap-mongodb` command: the SDK's CLI, ending in one clear line on expected errors.

SIGTERM is handled by the Singer SDK: it writes the state of what was already emitted and
exits 0, so the next run resumes from there (tests/e2e/test_tap_kill_and_secrets.py).
"""

from __future__ import annotations

from singer_sdk.exceptions import ConfigValidationError

from mongodb_common.bson_codec import UnsupportedBsonValueError
from mongodb_common.cli_errors import run_cli
from tap_mongodb.tap import TapMongoDB


def main() -> None:
    run_cli("tap-mongodb", TapMongoDB.cli, (UnsupportedBsonValueError, ConfigValidationError))
