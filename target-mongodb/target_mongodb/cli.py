"""The `target-mongodb` command: the SDK's CLI, ending in one clear line on expected errors."""

from __future__ import annotations

from singer_sdk.exceptions import ConfigValidationError

from mongodb_common.cli_errors import run_cli
from target_mongodb.naming import NamingError
from target_mongodb.target import TargetMongoDB


def main() -> None:
    run_cli("target-mongodb", TargetMongoDB.cli, (ConfigValidationError, NamingError))
