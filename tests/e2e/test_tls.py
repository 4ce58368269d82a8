"""The installed commands against a server that speaks only TLS, with a certificate from a private CA.

The CA and the server certificate (for 127.0.0.1 and localhost) are made here with trustme.
With `tls: true` and `tls_ca_file` both connectors work; without the CA, or with another
CA, they fail in one line naming the certificate problem and what to set.
"""

from __future__ import annotations

import json
import subprocess
import sys
import typing as t
from pathlib import Path

import pymongo
import pytest
import trustme

from tests.support.server import SecantusServer
from tests.support.singer_io import record_message, schema_message, singer_lines

pytestmark = pytest.mark.e2e

BIN = Path(sys.executable).parent
TAP, TARGET = str(BIN / "tap-mongodb"), str(BIN / "target-mongodb")
CERTIFICATE_PROBLEM = "[SSL: CERTIFICATE_VERIFY_FAILED] certificate verify failed"
HINT = "set tls_ca_file to the PEM file of the CA that signed it"


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    directory = tmp_path_factory.mktemp("pki")
    authority = trustme.CA()
    certificate = authority.issue_cert("127.0.0.1", "localhost")
    paths = {name: directory / f"{name}.pem" for name in ("ca", "server-cert", "server-key", "other-ca")}
    authority.cert_pem.write_to_path(str(paths["ca"]))
    certificate.private_key_pem.write_to_path(str(paths["server-key"]))
    for index, blob in enumerate(certificate.cert_chain_pems):
        blob.write_to_path(str(paths["server-cert"]), append=index > 0)
    trustme.CA().cert_pem.write_to_path(str(paths["other-ca"]))
    return paths


@pytest.fixture(scope="module")
def server(pki: dict[str, Path]) -> t.Iterator[SecantusServer]:
    tls = ["--tls-cert-file", str(pki["server-cert"]), "--tls-key-file", str(pki["server-key"])]
    with SecantusServer(extra_args=tls, tls_ca_file=pki["ca"]) as running:
        client: pymongo.MongoClient = pymongo.MongoClient(running.uri)
        client.shop.orders.insert_many([{"_id": i, "name": f"order {i}"} for i in range(20)])
        client.close()
        yield running


def _write(path: Path, data: t.Any) -> str:
    path.write_text(json.dumps(data), encoding="utf-8")
    return str(path)


def _run(args: list[str], stdin: str = "") -> subprocess.CompletedProcess[str]:
    return subprocess.run(args, input=stdin, capture_output=True, text=True, timeout=120, check=False)


def _settings(server: SecantusServer, host: str = "127.0.0.1", **tls: t.Any) -> dict[str, t.Any]:
    return {"host": host, "port": server.port, "tls": True, "server_selection_timeout_ms": 3000, **tls}


@pytest.mark.parametrize("host", ["127.0.0.1", "localhost"])
def test_with_the_ca_both_connectors_work(
    server: SecantusServer, pki: dict[str, Path], tmp_path: Path, host: str
) -> None:
    trusted = _settings(server, host, tls_ca_file=str(pki["ca"]))
    tap_config = _write(tmp_path / "tap.json", {**trusted, "database_includes": ["shop"]})
    target_config = _write(
        tmp_path / "target.json", {**trusted, "database": "copy", "collection_naming": "strip_database_prefix"}
    )
    command = f"{TAP} --config {tap_config} | {TARGET} --config {target_config}"
    pipeline = _run(["bash", "-o", "pipefail", "-c", command])
    assert pipeline.returncode == 0, pipeline.stderr
    client: pymongo.MongoClient = pymongo.MongoClient(server.uri)
    try:
        assert list(client.copy.orders.find(sort=[("_id", 1)])) == list(client.shop.orders.find(sort=[("_id", 1)]))
    finally:
        client.drop_database("copy")
        client.close()


@pytest.mark.parametrize("trust", ["no CA", "another CA"])
def test_without_the_ca_both_connectors_fail_in_one_line_naming_the_certificate_problem(
    server: SecantusServer, pki: dict[str, Path], tmp_path: Path, trust: str
) -> None:
    untrusted = _settings(server, **({"tls_ca_file": str(pki["other-ca"])} if trust == "another CA" else {}))
    tap_config = _write(tmp_path / "tap.json", {**untrusted, "database_includes": ["shop"]})
    target_config = _write(tmp_path / "target.json", {**untrusted, "database": "copy"})
    records = singer_lines(
        [schema_message("orders", {"_id": {"type": "integer"}}, ["_id"]), record_message("orders", {"_id": 1})]
    )
    results = {
        "tap-mongodb": _run([TAP, "--config", tap_config, "--discover"]),
        "target-mongodb": _run([TARGET, "--config", target_config], stdin=records),
    }
    for command, result in results.items():
        assert result.returncode == 1, result.stderr
        last = result.stderr.strip().splitlines()[-1]
        assert last.startswith(f"{command}: error: cannot reach MongoDB at 127.0.0.1:{server.port}: "), last
        assert CERTIFICATE_PROBLEM in last
        assert HINT in last
        assert "Traceback" not in result.stderr
