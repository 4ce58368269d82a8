"""Writes docs/configuration.md and meltano.yml from the connectors' own settings.

Both files are generated so they cannot drift from the code: tests/unit/test_generated_reference.py
fails when they differ from what this script writes. Run it after changing a setting:

    .venv/bin/python scripts/generate_reference.py
"""

from __future__ import annotations

import copy
import sys
import typing as t
from pathlib import Path

import yaml

from mongodb_common.redaction import SECRET_SETTINGS
from tap_mongodb.tap import TapMongoDB
from target_mongodb.target import TargetMongoDB

if t.TYPE_CHECKING:
    from singer_sdk import Tap, Target

ROOT = Path(__file__).resolve().parent.parent
CONFIGURATION_MD = ROOT / "docs" / "configuration.md"
MELTANO_YML = ROOT / "meltano.yml"

SENSITIVE = set(SECRET_SETTINGS)


def settings_schema(plugin: type[Tap] | type[Target]) -> dict[str, t.Any]:
    """The settings as `--about` shows them: ours plus the SDK's built-in ones."""
    schema = copy.deepcopy(plugin.config_jsonschema)
    plugin.append_builtin_config(schema)
    return schema


def _types(prop: dict[str, t.Any]) -> list[str]:
    declared = prop.get("type", [])
    return [declared] if isinstance(declared, str) else [name for name in declared if name != "null"]


def _plain(value: t.Any) -> t.Any:
    return value.value if hasattr(value, "value") else value


def meltano_setting(name: str, prop: dict[str, t.Any]) -> dict[str, t.Any]:
    types = _types(prop)
    setting: dict[str, t.Any] = {"name": name, "label": prop.get("title") or name.replace("_", " ").capitalize()}
    if prop.get("enum") or prop.get("allowed_values"):
        setting["kind"] = "options"
        setting["options"] = [{"label": str(_plain(v)), "value": _plain(v)} for v in prop.get("enum", [])]
    elif "boolean" in types:
        setting["kind"] = "boolean"
    elif "integer" in types:
        setting["kind"] = "integer"
    elif "object" in types:
        setting["kind"] = "object"
    elif "array" in types:
        setting["kind"] = "array"
    else:
        setting["kind"] = "string"
    if name in SENSITIVE or prop.get("secret"):
        setting["sensitive"] = True
    if "default" in prop:
        setting["value"] = _plain(prop["default"])
    if prop.get("description"):
        setting["description"] = " ".join(str(prop["description"]).split())
    return setting


def meltano_settings(plugin: type[Tap] | type[Target]) -> list[dict[str, t.Any]]:
    return [meltano_setting(name, prop) for name, prop in settings_schema(plugin)["properties"].items()]


def _capabilities(plugin: type[Tap] | type[Target]) -> list[str]:
    return sorted(str(_plain(capability)) for capability in plugin.capabilities)


DEMO = "${MELTANO_PROJECT_ROOT}/.demo"
# The demo's two local servers (scripts/demo.sh starts them): a source and a destination.
DEMO_SOURCE_URI = "mongodb://127.0.0.1:27117/"
DEMO_DESTINATION_URI = "mongodb://127.0.0.1:27118/"


# MeltanoLabs target-postgres, pinned to a release built on this repository's singer-sdk (0.54).
TARGET_POSTGRES_PIP_URL = "meltanolabs-target-postgres==0.8.1"


def _loader_setting(name: str, kind: str, description: str, **extra: t.Any) -> dict[str, t.Any]:
    label = name.replace("_", " ").capitalize()
    return {"name": name, "kind": kind, "label": label, "description": description, **extra}


TARGET_POSTGRES_SETTINGS = [
    _loader_setting("host", "string", "Hostname of the PostgreSQL server (ignored with sqlalchemy_url)."),
    _loader_setting("port", "integer", "Port of the PostgreSQL server (ignored with sqlalchemy_url).", value=5432),
    _loader_setting("user", "string", "User to log in as (ignored with sqlalchemy_url)."),
    _loader_setting("password", "string", "Password of that user (ignored with sqlalchemy_url).", sensitive=True),
    _loader_setting("database", "string", "Database to load into (ignored with sqlalchemy_url)."),
    _loader_setting(
        "sqlalchemy_url",
        "string",
        "SQLAlchemy URL (postgresql+psycopg://user:password@host:port/database); overrides the above.",
        sensitive=True,
    ),
    _loader_setting(
        "default_target_schema",
        "string",
        "Schema to create the tables in (one table per stream, named after the collection).",
        value="melty",
    ),
    _loader_setting(
        "add_record_metadata",
        "boolean",
        "Add the _sdc_* columns (extracted, batched, deleted at, table version); activate_version needs them.",
        value=True,
    ),
    _loader_setting(
        "activate_version",
        "boolean",
        "Handle ACTIVATE_VERSION: after a FULL_TABLE sync, rows of older versions are deleted or marked.",
        value=True,
    ),
    _loader_setting(
        "hard_delete",
        "boolean",
        "On ACTIVATE_VERSION, delete rows the full sync did not see instead of setting _sdc_deleted_at.",
        value=False,
    ),
    _loader_setting("use_copy", "boolean", "Insert with COPY instead of INSERT statements.", value=False),
    _loader_setting(
        "sanitize_null_text_characters",
        "boolean",
        "Replace NUL characters (which PostgreSQL text cannot hold) with U+FFFD instead of failing.",
        value=False,
    ),
    _loader_setting("ssl_enable", "boolean", "Verify the server's identity over TLS (see ssl_mode).", value=False),
    _loader_setting("ssl_mode", "string", "libpq sslmode: disable ... verify-full.", value="verify-full"),
    _loader_setting("ssl_certificate_authority", "string", "CA certificate (a path or the PEM text)."),
]


def meltano_project() -> dict[str, t.Any]:
    return {
        "requires_meltano": ">=4.4,<5",
        "default_environment": "demo",
        "project_id": "8b6f1f2a-4a77-4c8e-9d3e-5c1f0e7a2b64",
        "send_anonymous_usage_stats": False,
        "venv": {"backend": "uv"},
        "environments": [
            {
                "name": "demo",
                "config": {
                    "plugins": {
                        "extractors": [
                            {
                                "name": "tap-mongodb",
                                "config": {
                                    "mongodb_uri": DEMO_SOURCE_URI,
                                    "database_includes": ["demo_*"],
                                    # MongoDB to MongoDB: exact types, whatever the drift.
                                    "bson_encoding": "extended_json",
                                },
                            }
                        ],
                        "loaders": [
                            {
                                "name": "target-mongodb",
                                "config": {
                                    "mongodb_uri": DEMO_DESTINATION_URI,
                                    "database": "replica",
                                    "collection_naming": "database_from_prefix",
                                },
                            },
                            {"name": "target-csv", "config": {"output_path": f"{DEMO}/csv"}},
                            {
                                # libpq's own variables, so psql and this loader see the same server.
                                "name": "target-postgres",
                                "config": {
                                    "host": "${PGHOST}",
                                    "port": "${PGPORT}",
                                    "user": "${PGUSER}",
                                    "password": "${PGPASSWORD}",
                                    "database": "${PGDATABASE}",
                                },
                            },
                        ],
                    }
                },
            },
            {
                # Connection strings are secrets: `meltano --environment=prod config <plugin> set
                # mongodb_uri ...` keeps them in .env (TAP_MONGODB_MONGODB_URI, ...), not here.
                "name": "prod",
                "config": {"plugins": {"loaders": [{"name": "target-mongodb", "config": {"database": "replica"}}]}},
            },
        ],
        "plugins": {
            "extractors": [
                {
                    "name": "tap-mongodb",
                    "namespace": "tap_mongodb",
                    # As a user copies it: a path (or `git+https://...#subdirectory=tap-mongodb`)
                    # installs the plugin alone; its build carries the shared code (hatch_build.py).
                    "pip_url": "./tap-mongodb",
                    "executable": "tap-mongodb",
                    "capabilities": _capabilities(TapMongoDB),
                    "settings_group_validation": [["mongodb_uri"], ["host"]],
                    "settings": meltano_settings(TapMongoDB),
                },
                {
                    "name": "tap-mongodb--full-table",
                    "inherit_from": "tap-mongodb",
                    "metadata": {"*": {"replication-method": "FULL_TABLE"}},
                },
                {
                    "name": "tap-mongodb--incremental",
                    "inherit_from": "tap-mongodb",
                    "metadata": {"*": {"replication-method": "INCREMENTAL", "replication-key": "updated_at"}},
                },
                {
                    "name": "tap-mongodb--log-based",
                    "inherit_from": "tap-mongodb",
                    "metadata": {"*": {"replication-method": "LOG_BASED"}},
                },
                {
                    "name": "tap-mongodb--flattened",
                    "inherit_from": "tap-mongodb",
                    "config": {
                        "bson_encoding": "plain",
                        "flattening_enabled": True,
                        "flattening_max_depth": 3,
                        "denest_arrays": True,
                        "safe_column_names": True,
                        "safe_stream_names": True,
                    },
                },
                {
                    # SQL destinations without flattening: objects and arrays land as JSON columns.
                    "name": "tap-mongodb--sql",
                    "inherit_from": "tap-mongodb",
                    "config": {"bson_encoding": "plain", "safe_column_names": True, "safe_stream_names": True},
                },
            ],
            "loaders": [
                {
                    "name": "target-mongodb",
                    "namespace": "target_mongodb",
                    "pip_url": "./target-mongodb",
                    "executable": "target-mongodb",
                    "capabilities": _capabilities(TargetMongoDB),
                    "settings_group_validation": [["mongodb_uri", "database"], ["host", "database"]],
                    "settings": meltano_settings(TargetMongoDB),
                },
                {
                    "name": "target-csv",
                    "namespace": "target_csv",
                    "pip_url": "meltanolabs-target-csv==0.5.0",
                    "executable": "target-csv",
                    "capabilities": ["about", "schema-flattening", "stream-maps"],
                    "settings": [
                        {"name": "output_path", "kind": "string", "label": "Output path"},
                        {"name": "file_naming_scheme", "kind": "string", "label": "File naming scheme"},
                    ],
                },
                {
                    "name": "target-postgres",
                    "namespace": "target_postgres",
                    "variant": "meltanolabs",
                    "pip_url": TARGET_POSTGRES_PIP_URL,
                    "executable": "target-postgres",
                    "capabilities": ["about", "activate-version", "hard-delete", "schema-flattening", "stream-maps"],
                    "settings_group_validation": [["host", "port", "user", "password", "database"], ["sqlalchemy_url"]],
                    "settings": TARGET_POSTGRES_SETTINGS,
                    "config": {
                        # Empty: each MongoDB database is a schema, each collection a table. One
                        # schema for all would put same-named collections of two databases in one
                        # table, where each FULL_TABLE sync deletes the other's rows.
                        "default_target_schema": "",
                        # Documents deleted at the source leave PostgreSQL after a FULL_TABLE sync.
                        "add_record_metadata": True,
                        "activate_version": True,
                        "hard_delete": True,
                    },
                },
            ],
        },
        "jobs": [{"name": "mongo-to-mongo", "tasks": ["tap-mongodb target-mongodb"]}],
        "schedules": [{"name": "mongo-replica", "interval": "*/30 * * * *", "job": "mongo-to-mongo"}],
    }


def render_meltano_yml() -> str:
    header = (
        "# Generated by scripts/generate_reference.py from the connectors' settings; edit the\n"
        "# script, not this file (tests/unit/test_generated_reference.py checks they agree).\n"
    )
    return header + yaml.safe_dump(meltano_project(), sort_keys=False, width=100, allow_unicode=True)


def _default_text(prop: dict[str, t.Any]) -> str:
    if "default" not in prop:
        return ""
    value = _plain(prop["default"])
    return f"`{str(value).lower() if isinstance(value, bool) else value}`"


def _settings_table(plugin: type[Tap] | type[Target]) -> list[str]:
    schema = settings_schema(plugin)
    required = set(schema.get("required", []))
    rows = ["| Setting | Type | Default | Description |", "| --- | --- | --- | --- |"]
    for name, prop in schema["properties"].items():
        kind = "/".join(_types(prop)) or "any"
        if prop.get("enum"):
            kind += ": " + ", ".join(f"`{_plain(v)}`" for v in prop["enum"])
        flags = (" **required**" if name in required else "") + (
            " (secret)" if name in SENSITIVE or prop.get("secret") else ""
        )
        description = " ".join(str(prop.get("description") or prop.get("title") or "").split()).replace("|", "\\|")
        rows.append(f"| `{name}`{flags} | {kind} | {_default_text(prop)} | {description} |")
    return rows


def render_configuration_md() -> str:
    lines = [
        "# Configuration reference",
        "",
        "<!-- Generated by scripts/generate_reference.py from the connectors' code; do not edit. -->",
        "",
        "Settings come from a JSON config file (`--config`), from environment variables with",
        "`--config=ENV` (`TAP_MONGODB_<SETTING>`, `TARGET_MONGODB_<SETTING>`), or from Meltano",
        "(`meltano config set tap-mongodb <setting> <value>`). Secret settings are never printed.",
        "",
        "## tap-mongodb",
        "",
        *_settings_table(TapMongoDB),
        "",
        "## target-mongodb",
        "",
        *_settings_table(TargetMongoDB),
        "",
    ]
    return "\n".join(lines)


def main() -> None:
    CONFIGURATION_MD.write_text(render_configuration_md(), encoding="utf-8")
    MELTANO_YML.write_text(render_meltano_yml(), encoding="utf-8")
    sys.stdout.write(f"wrote {CONFIGURATION_MD.relative_to(ROOT)} and {MELTANO_YML.relative_to(ROOT)}\n")


if __name__ == "__main__":
    main()
