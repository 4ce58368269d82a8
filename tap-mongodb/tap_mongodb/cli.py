"""The `tap-mongodb` command: the SDK's CLI, ending in one clear line on expected errors."""

from __future__ import annotations

from singer_sdk.exceptions import ConfigValidationError

from mongodb_common.bson_codec import UnsupportedBsonValueError
from mongodb_common.cli_errors import run_cli
from tap_mongodb.tap import TapMongoDB


def main() -> None:
    run_cli("tap-mongodb", TapMongoDB.cli, (UnsupportedBsonValueError, ConfigValidationError))
