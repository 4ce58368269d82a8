"""Invalid settings as one line that names each setting at fault and what to do.

The Singer SDK logs one ERROR line per schema violation, then "Config validation failed",
and exits: several lines, the setting named last, in jsonschema's words
("... in config['port']"). Both connectors turn that into one `ConnectorError`, which the
CLI (cli_errors.py) prints as their single error line.
"""

from __future__ import annotations

import re
import typing as t

from singer_sdk.exceptions import ConfigValidationError

from mongodb_common.cli_errors import ConnectorError

# What `singer_sdk.plugin_base._format_validation_error` writes: "<message> in config['a']['b']".
_AT_SETTING = re.compile(r"^(?P<message>.*) in config(?P<path>(\[[^\]]*\])+)$", re.DOTALL)


class InvalidSettingsError(ConnectorError):
    """A setting has the wrong type or an unknown value, or a required one is missing."""


def _one_problem(error: str) -> str:
    found = _AT_SETTING.match(error)
    if not found:
        return error  # e.g. "'database' is a required property": it names the setting already
    setting = ".".join(part.strip("'\"") for part in re.findall(r"\[([^\]]*)\]", found["path"]))
    return f"setting '{setting}': {found['message']}"


def invalid_settings(plugin: str, exc: ConfigValidationError) -> InvalidSettingsError:
    problems = "; ".join(_one_problem(error) for error in exc.errors) or str(exc)
    return InvalidSettingsError(
        f"invalid settings: {problems} (fix it in the --config file, the {_env_prefix(plugin)}_* environment "
        f"variables, or with `meltano config set {plugin} SETTING VALUE`)"
    )


def _env_prefix(plugin: str) -> str:
    return plugin.upper().replace("-", "_")


class ValidatesSettingsInOneLine:
    """Mixed into the tap and the target, ahead of the SDK's base class."""

    name: str

    def _validate_config(self, *, raise_errors: bool = True) -> list[str]:
        try:
            return t.cast("list[str]", super()._validate_config(raise_errors=raise_errors))  # type: ignore[misc]
        except ConfigValidationError as exc:
            raise invalid_settings(self.name, exc) from None
