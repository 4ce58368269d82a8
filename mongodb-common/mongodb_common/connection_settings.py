"""The connection settings both connectors accept, declared once in Singer SDK form."""

from __future__ import annotations

from singer_sdk import typing as th

from mongodb_common.timeouts import (
    DEFAULT_CONNECT_TIMEOUT_MS,
    DEFAULT_SERVER_SELECTION_TIMEOUT_MS,
    HEARTBEAT_INTERVAL_MS,
)

READ_PREFERENCES = ("primary", "primaryPreferred", "secondary", "secondaryPreferred", "nearest")


def connection_properties(*, default_app_name: str) -> list[th.Property]:
    """Settings for reaching a deployment: a URI, or host/port/credentials, plus TLS and timeouts.

    ``mongodb_uri`` wins over the discrete host settings when both are given, so a URI copied
    from Atlas works as is; credentials given separately are still applied to it.
    """
    return [
        th.Property(
            "mongodb_uri",
            th.StringType,
            secret=True,
            description=("Connection string (mongodb:// or mongodb+srv://). Overrides host and port."),
        ),
        th.Property("host", th.StringType, default="localhost", description="Server host name (no URI)."),
        th.Property("port", th.IntegerType, default=27017, description="Server port (no URI)."),
        th.Property("username", th.StringType, description="User to authenticate as."),
        th.Property("password", th.StringType, secret=True, description="Password of `username`."),
        th.Property(
            "auth_database",
            th.StringType,
            default="admin",
            description="Database holding the user's credentials (authSource).",
        ),
        th.Property(
            "auth_mechanism",
            th.StringType,
            description="SCRAM-SHA-256, SCRAM-SHA-1, MONGODB-X509, MONGODB-AWS, ... (server default if unset).",
        ),
        th.Property("tls", th.BooleanType, default=False, description="Connect with TLS."),
        th.Property("tls_ca_file", th.StringType, description="PEM file of certificate authorities to trust."),
        th.Property(
            "tls_certificate_key_file",
            th.StringType,
            description="PEM file with the client certificate and private key (X.509 auth, mutual TLS).",
        ),
        th.Property(
            "tls_certificate_key_file_password",
            th.StringType,
            secret=True,
            description="Password of the client private key.",
        ),
        th.Property(
            "tls_allow_invalid_hostnames",
            th.BooleanType,
            default=False,
            description="Accept a server certificate whose host name does not match (unsafe).",
        ),
        th.Property(
            "tls_allow_invalid_certificates",
            th.BooleanType,
            default=False,
            description="Accept any server certificate (unsafe; for self-signed test servers only).",
        ),
        th.Property(
            "direct_connection",
            th.BooleanType,
            description="Talk to the one given host only, without discovering the replica set.",
        ),
        th.Property(
            "app_name", th.StringType, default=default_app_name, description="Shown in server logs and currentOp."
        ),
        th.Property(
            "server_selection_timeout_ms",
            th.IntegerType,
            default=DEFAULT_SERVER_SELECTION_TIMEOUT_MS,
            description=(
                "How long an operation waits for a usable server (during an election, or while the "
                "server is unreachable) before it fails, or mid-run is retried. A "
                "`serverSelectionTimeoutMS` in `mongodb_uri` wins."
            ),
        ),
        th.Property(
            "connect_timeout_ms",
            th.IntegerType,
            default=DEFAULT_CONNECT_TIMEOUT_MS,
            description=(
                "Timeout of a TCP connect and of the driver's heartbeat, sent every "
                f"{HEARTBEAT_INTERVAL_MS // 1000} s: a server silent for this long is declared unreachable, "
                "and the operations waiting on it fail and are retried. A `connectTimeoutMS` in "
                "`mongodb_uri` wins."
            ),
        ),
        th.Property(
            "socket_timeout_ms",
            th.IntegerType,
            description=(
                "Longest wait for the reply to one network read or write. Unset (the default): no "
                "limit, so a slow server-side sort or count is never cut off, while a server that "
                "stops answering is still noticed by the heartbeat (see `connect_timeout_ms`). A "
                "`socketTimeoutMS` in `mongodb_uri` wins."
            ),
        ),
        th.Property("ssh_enabled", th.BooleanType, default=False, description="Connect through an SSH bastion."),
        th.Property("ssh_host", th.StringType, description="SSH bastion host."),
        th.Property("ssh_port", th.IntegerType, default=22, description="SSH bastion port."),
        th.Property("ssh_username", th.StringType, description="User on the SSH bastion."),
        th.Property("ssh_password", th.StringType, secret=True, description="Password on the bastion (or use a key)."),
        th.Property(
            "ssh_private_key",
            th.StringType,
            secret=True,
            description="Private key (PEM or OpenSSH text, Ed25519/ECDSA/RSA) for the bastion.",
        ),
        th.Property("ssh_private_key_password", th.StringType, secret=True, description="Password of the private key."),
        th.Property(
            "max_retries",
            th.IntegerType,
            default=5,
            description=(
                "Retries of an operation after a retryable error (network error, election, killed "
                "cursor, server selection timeout), resuming from the last position; then a clear error. "
                "A server that goes silent is given up on after about connect_timeout_ms + 10 s, then "
                "max_retries times server_selection_timeout_ms plus the waits between retries: about "
                "3.5 minutes with the defaults."
            ),
        ),
        th.Property(
            "retry_backoff_seconds",
            th.NumberType,
            default=1.0,
            description="First wait before a retry; doubled on each further retry (at most 60 s).",
        ),
    ]


def read_preference_property() -> th.Property:
    return th.Property(
        "read_preference",
        th.StringType,
        default="secondaryPreferred",
        allowed_values=list(READ_PREFERENCES),
        description="Which members to read from; secondaries by default to spare the primary.",
    )
