"""Secrets never appear in messages built from settings."""

from __future__ import annotations

from mongodb_common.client_factory import client_options, connection_target
from mongodb_common.redaction import redact_text, redact_uri


def test_uri_password_is_masked_but_user_and_hosts_stay() -> None:
    uri = "mongodb+srv://alice:s3cr%40t@cluster0.example.net/?tlsCertificateKeyFilePassword=kp&w=majority"
    redacted = redact_uri(uri)
    assert "s3cr" not in redacted
    assert "kp&" not in redacted
    assert redacted.startswith("mongodb+srv://alice:***@cluster0.example.net/")
    assert "w=majority" in redacted


def test_uri_without_password_is_unchanged() -> None:
    assert redact_uri("mongodb://h1:27017,h2:27017/?replicaSet=rs0") == "mongodb://h1:27017,h2:27017/?replicaSet=rs0"


def test_secret_setting_values_are_masked_in_any_text() -> None:
    config = {"password": "hunter2", "mongodb_uri": "mongodb://bob:pw@db:27017"}
    text = redact_text("auth failed for hunter2 at mongodb://bob:pw@db:27017", config)
    assert "hunter2" not in text
    assert ":pw@" not in text


def test_connection_target_names_host_without_password() -> None:
    assert connection_target({"mongodb_uri": "mongodb://u:p@h:1"}) == "mongodb://u:***@h:1"
    assert connection_target({"host": "db.internal", "port": 27018}) == "db.internal:27018"


def test_client_options_from_discrete_settings() -> None:
    host, options = client_options(
        {
            "host": "db.internal",
            "port": 27018,
            "username": "reader",
            "password": "pw",
            "auth_database": "users",
            "tls": True,
            "tls_ca_file": "/ca.pem",
            "tls_allow_invalid_hostnames": True,
            "app_name": "tap-mongodb",
            "server_selection_timeout_ms": 1234,
        },
        read_preference="secondaryPreferred",
    )
    assert host == "db.internal"
    assert options["port"] == 27018
    assert options["authSource"] == "users"
    assert options["tlsCAFile"] == "/ca.pem"
    assert options["tlsAllowInvalidHostnames"] is True
    assert options["readPreference"] == "secondaryPreferred"
    assert options["serverSelectionTimeoutMS"] == 1234
    assert options["appname"] == "tap-mongodb"
    assert "tlsCertificateKeyFile" not in options


def test_uri_wins_over_host_and_port() -> None:
    host, options = client_options({"mongodb_uri": "mongodb://a:1/", "host": "b", "port": 2})
    assert host == "mongodb://a:1/"
    assert "port" not in options


def test_a_read_preference_in_the_uri_wins_over_the_setting() -> None:
    _, options = client_options(
        {"mongodb_uri": "mongodb://h/?readPreference=primary"}, read_preference="secondaryPreferred"
    )
    assert "readPreference" not in options
    _, options = client_options({"mongodb_uri": "mongodb://h/"}, read_preference="secondaryPreferred")
    assert options["readPreference"] == "secondaryPreferred"
