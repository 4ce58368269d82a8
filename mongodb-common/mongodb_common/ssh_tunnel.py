"""Reaching MongoDB through an SSH bastion (the `ssh_*` settings), with sshtunnel/paramiko.

The tunnel forwards a local loopback port to the MongoDB host as the bastion sees it; the
client then talks to that port with `directConnection`, since replica-set member names
are not reachable through one forwarded port. One tunnel per process, closed at exit.
"""

from __future__ import annotations

import atexit
import io
import typing as t
from urllib import parse

from mongodb_common.cli_errors import ConnectorError
from mongodb_common.redaction import redact_text

if t.TYPE_CHECKING:
    import sshtunnel


class SshTunnelError(ConnectorError):
    """The bastion could not be reached or refused us; names it and the cause."""


def _target(config: t.Mapping[str, t.Any]) -> tuple[str, int]:
    uri = config.get("mongodb_uri")
    if not uri:
        return str(config.get("host") or "localhost"), int(config.get("port") or 27017)
    parsed = parse.urlsplit(uri)
    if parsed.scheme == "mongodb+srv" or "," in parsed.netloc:
        msg = (
            "through an SSH tunnel, mongodb_uri must name one host (mongodb://host:port), "
            "not a seed list or an SRV record"
        )
        raise SshTunnelError(msg)
    return parsed.hostname or "localhost", parsed.port or 27017


def _private_key(config: t.Mapping[str, t.Any]) -> t.Any:
    text = config.get("ssh_private_key")
    if not text:
        return None
    import paramiko

    passphrase = config.get("ssh_private_key_password") or None
    for key_class in (paramiko.Ed25519Key, paramiko.ECDSAKey, paramiko.RSAKey):
        try:
            return key_class.from_private_key(io.StringIO(text), password=passphrase)
        except paramiko.SSHException:
            continue
    msg = "ssh_private_key is not a readable Ed25519, ECDSA or RSA private key (or its password is wrong)"
    raise SshTunnelError(msg)


def open_tunnel(config: t.Mapping[str, t.Any]) -> sshtunnel.SSHTunnelForwarder:
    """Start the tunnel; returns it running, with `local_bind_port` to connect to."""
    import sshtunnel

    bastion = (str(config["ssh_host"]), int(config.get("ssh_port") or 22))
    tunnel = sshtunnel.SSHTunnelForwarder(
        bastion,
        ssh_username=config.get("ssh_username"),
        ssh_password=config.get("ssh_password") or None,
        ssh_pkey=_private_key(config),
        remote_bind_address=_target(config),
        local_bind_address=("127.0.0.1", 0),
        allow_agent=False,
        host_pkey_directories=[],
    )
    try:
        tunnel.start()
    except (sshtunnel.BaseSSHTunnelForwarderError, OSError) as exc:
        _release_unstarted(tunnel)
        msg = f"cannot open the SSH tunnel through {bastion[0]}:{bastion[1]} as {config.get('ssh_username')!r}: {exc}"
        raise SshTunnelError(redact_text(msg, config)) from None
    atexit.register(tunnel.stop)
    return tunnel


def _release_unstarted(tunnel: sshtunnel.SSHTunnelForwarder) -> None:
    """Close the local port a failed `start` bound (sshtunnel binds it before it logs in).

    sshtunnel's own `stop` would wait forever for forwarders that never served, and nothing
    else closes their listening sockets: a process that retries would pile them up.
    """
    for server in tunnel._server_list:
        server.server_close()
    tunnel._server_list = []


def tunnelled_config(config: t.Mapping[str, t.Any], tunnel: sshtunnel.SSHTunnelForwarder) -> dict[str, t.Any]:
    """The settings rewritten to reach MongoDB through the tunnel's local port."""
    rewritten = dict(config)
    uri = config.get("mongodb_uri")
    local = f"127.0.0.1:{tunnel.local_bind_port}"
    if uri:
        parsed = parse.urlsplit(uri)
        userinfo = parsed.netloc.rpartition("@")[0]
        netloc = f"{userinfo}@{local}" if userinfo else local
        rewritten["mongodb_uri"] = parse.urlunsplit(parsed._replace(netloc=netloc))
    else:
        rewritten["host"], rewritten["port"] = "127.0.0.1", tunnel.local_bind_port
    rewritten["direct_connection"] = True
    if config.get("tls") and not config.get("tls_allow_invalid_hostnames"):
        # The certificate names the real host, not 127.0.0.1.
        rewritten["tls_allow_invalid_hostnames"] = True
    return rewritten
