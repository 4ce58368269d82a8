"""docs/configuration.md and meltano.yml are generated from the code and must not drift."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[2]


def _generator():
    spec = importlib.util.spec_from_file_location("generate_reference", ROOT / "scripts" / "generate_reference.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["generate_reference"] = module
    spec.loader.exec_module(module)
    return module


def test_configuration_reference_matches_the_code() -> None:
    generated = _generator().render_configuration_md()
    assert (ROOT / "docs" / "configuration.md").read_text(encoding="utf-8") == generated, (
        "run: .venv/bin/python scripts/generate_reference.py"
    )


def test_meltano_yml_matches_the_code() -> None:
    generated = _generator().render_meltano_yml()
    assert (ROOT / "meltano.yml").read_text(encoding="utf-8") == generated, (
        "run: .venv/bin/python scripts/generate_reference.py"
    )


def test_meltano_declares_every_setting_with_secrets_marked_sensitive() -> None:
    from tap_mongodb.tap import TapMongoDB
    from target_mongodb.target import TargetMongoDB

    project = yaml.safe_load((ROOT / "meltano.yml").read_text(encoding="utf-8"))
    plugins = {p["name"]: p for kind in project["plugins"].values() for p in kind}
    for plugin_class in (TapMongoDB, TargetMongoDB):
        declared = {s["name"]: s for s in plugins[plugin_class.name]["settings"]}
        assert set(plugin_class.config_jsonschema["properties"]) <= set(declared)
        for secret in ("mongodb_uri", "password", "tls_certificate_key_file_password"):
            assert declared[secret]["sensitive"] is True
        assert declared["server_selection_timeout_ms"]["kind"] == "integer"
    assert "log-based" in plugins["tap-mongodb"]["capabilities"]
