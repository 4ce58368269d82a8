"""Keeping credentials out of logs, errors and ``--about`` output."""

from __future__ import annotations

import re
import typing as t

MASK = "***"

SECRET_SETTINGS = (
    "password",
    "mongodb_uri",
    "tls_certificate_key_file_password",
    "ssh_password",
    "ssh_private_key",
    "ssh_private_key_password",
)

_USERINFO = re.compile(r"(?P<scheme>[a-z][a-z0-9+.-]*://)(?P<userinfo>[^@/?#\s]*)@", re.IGNORECASE)
_SECRET_QUERY = re.compile(
    r"(?P<key>(?:password|tlsCertificateKeyFilePassword|authMechanismProperties)=)[^&\s]*",
    re.IGNORECASE,
)


def redact_uri(uri: str) -> str:
    """The URI with its password and secret options masked; user and hosts stay readable."""

    def _mask_userinfo(match: re.Match[str]) -> str:
        user = match["userinfo"].split(":", 1)[0]
        return f"{match['scheme']}{user}:{MASK}@" if ":" in match["userinfo"] else match[0]

    return _SECRET_QUERY.sub(rf"\g<key>{MASK}", _USERINFO.sub(_mask_userinfo, uri))


def redact_text(text: str, config: t.Mapping[str, t.Any]) -> str:
    """Mask every secret setting's value (and any URI password) wherever it appears in text."""
    for name in SECRET_SETTINGS:
        value = config.get(name)
        if isinstance(value, str) and value:
            text = text.replace(value, redact_uri(value) if name == "mongodb_uri" else MASK)
    return redact_uri(text)
