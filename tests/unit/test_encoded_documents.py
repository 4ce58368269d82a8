"""A document the target sends is decoded by nobody on its way to the server (document_checks.py)."""

from __future__ import annotations

import typing as t

import bson.raw_bson
import pymongo
from bson.raw_bson import RawBSONDocument

from target_mongodb import write_operations
from target_mongodb.document_checks import EncodedDocument, encode_checked

if t.TYPE_CHECKING:
    import pytest


def test_an_upsert_or_insert_is_built_without_decoding_its_document(monkeypatch: pytest.MonkeyPatch) -> None:
    decoded: list[bytes] = []
    original = bson.raw_bson._inflate_bson

    def counting(data: bytes, *args: t.Any, **kwargs: t.Any) -> t.Any:
        decoded.append(data)
        return original(data, *args, **kwargs)

    monkeypatch.setattr(bson.raw_bson, "_inflate_bson", counting)
    document = encode_checked({"_id": 1, "name": "n", "nested": {"a": [1, 2]}})
    write_operations.upsert({"_id": 1}, document)
    write_operations.insert(document)
    assert decoded == []
    assert isinstance(document, RawBSONDocument)  # pymongo sends its bytes as they are
    assert document["nested"]["a"] == [1, 2]  # and it still reads as the document when asked
    assert decoded[0] == document.raw


def test_only_the_empty_document_is_false() -> None:
    assert not EncodedDocument(bson.encode({}))
    assert EncodedDocument(bson.encode({"_id": 1}))
    assert pymongo.ReplaceOne({"_id": 1}, EncodedDocument(bson.encode({})), upsert=True)  # pymongo accepts {}
