"""The one place a MongoClient is built from connector settings."""

from __future__ import annotations

import datetime
import typing as t

import pymongo
import pymongo.errors
from bson.codec_options import DatetimeConversion

from mongodb_common.cli_errors import ConnectorError
from mongodb_common.failure_causes import explain
from mongodb_common.redaction import redact_text, redact_uri
from mongodb_common.timeouts import Timeouts


class MongoConnectionError(ConnectorError):
    """The deployment could not be reached or refused us; names the host and the cause."""


def connection_target(config: t.Mapping[str, t.Any]) -> str:
    """The URI or host:port the settings point at, with any password masked (for messages)."""
    uri = config.get("mongodb_uri")
    if uri:
        return redact_uri(uri)
    return f"{config.get('host') or 'localhost'}:{config.get('port') or 27017}"


def client_options(
    config: t.Mapping[str, t.Any],
    *,
    read_preference: str | None = None,
) -> tuple[str, dict[str, t.Any]]:
    """The host argument and keyword options for ``pymongo.MongoClient``.

    Decoding options are chosen for fidelity: timezone-aware UTC datetimes, and dates
    outside Python's range decoded as ``DatetimeMS`` instead of raising. Timeouts are the
    ones messages quote (timeouts.py): a timeout written in the URI wins over the setting.
    """
    host = config.get("mongodb_uri") or config.get("host") or "localhost"
    options: dict[str, t.Any] = {
        "tz_aware": True,
        "tzinfo": datetime.timezone.utc,
        "datetime_conversion": DatetimeConversion.DATETIME_AUTO,
        "document_class": dict,
        "appname": config.get("app_name"),
        **Timeouts.from_config(config).client_options(),
    }
    if not config.get("mongodb_uri"):
        options["port"] = int(config.get("port") or 27017)
    optional = {
        "username": config.get("username"),
        "password": config.get("password"),
        "authMechanism": config.get("auth_mechanism"),
        "directConnection": config.get("direct_connection"),
        # A readPreference written in the URI wins over the setting's default.
        "readPreference": None if "readpreference=" in host.lower() else read_preference,
    }
    if config.get("username"):
        optional["authSource"] = config.get("auth_database") or "admin"
    if config.get("tls"):
        optional.update(
            tls=True,
            tlsCAFile=config.get("tls_ca_file"),
            tlsCertificateKeyFile=config.get("tls_certificate_key_file"),
            tlsCertificateKeyFilePassword=config.get("tls_certificate_key_file_password"),
            tlsAllowInvalidHostnames=config.get("tls_allow_invalid_hostnames") or None,
            tlsAllowInvalidCertificates=config.get("tls_allow_invalid_certificates") or None,
        )
    options.update({key: value for key, value in optional.items() if value is not None})
    return host, {key: value for key, value in options.items() if value is not None}


def create_client(
    config: t.Mapping[str, t.Any],
    *,
    read_preference: str | None = None,
) -> pymongo.MongoClient:
    """A client for the settings (through the SSH tunnel when one is configured)."""
    if config.get("ssh_enabled"):
        from mongodb_common.ssh_tunnel import open_tunnel, tunnelled_config

        config = tunnelled_config(config, open_tunnel(config))
    host, options = client_options(config, read_preference=read_preference)
    try:
        return pymongo.MongoClient(host, **options)
    except (pymongo.errors.ConfigurationError, pymongo.errors.InvalidURI, TypeError, ValueError) as exc:
        msg = f"invalid connection settings for {connection_target(config)}: {exc}"
        raise MongoConnectionError(redact_text(msg, config)) from None


def connect(config: t.Mapping[str, t.Any], *, read_preference: str | None = None) -> pymongo.MongoClient:
    """A client that answered `ping`; closed again when it did not, so a failed run leaves no client open."""
    client = create_client(config, read_preference=read_preference)
    try:
        verify_connection(client, config)
    except BaseException:
        client.close()
        raise
    return client


def close_cached_client(owner: object) -> None:
    """Close the client a `functools.cached_property` named `client` holds, if it was ever made.

    pymongo keeps monitor threads and sockets until `close()`; a client left for the garbage
    collector ends every run with a `ResourceWarning: Unclosed MongoClient` traceback.
    Forgetting it too lets a later use open a fresh one instead of using a closed one.
    """
    client = vars(owner).pop("client", None)
    if client is not None:
        client.close()


def verify_connection(client: pymongo.MongoClient, config: t.Mapping[str, t.Any]) -> None:
    """Fail fast, within the server-selection timeout, with a message naming host and cause."""
    try:
        client.admin.command("ping")
    except pymongo.errors.OperationFailure as exc:
        cause = (
            "authentication failed"
            if exc.code in {18, 8000}
            else exc.details.get("errmsg", str(exc))
            if exc.details
            else str(exc)
        )
        msg = f"MongoDB at {connection_target(config)} refused the connection: {cause}"
        raise MongoConnectionError(redact_text(msg, config)) from None
    except pymongo.errors.PyMongoError as exc:
        msg = f"cannot reach MongoDB at {connection_target(config)}: {explain(exc, Timeouts.from_config(config))}"
        raise MongoConnectionError(redact_text(msg, config)) from None
