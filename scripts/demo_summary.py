"""Prints what the demo copied: per collection, documents at source and destination, and
whether the copy is identical (the same BSON, byte for byte: types, values, field order).

    python scripts/demo_summary.py SOURCE_URI DESTINATION_URI
"""

from __future__ import annotations

import sys
import typing as t

import bson
import pymongo
from bson.codec_options import CodecOptions, DatetimeConversion
from bson.raw_bson import RawBSONDocument

# Documents as the server's own bytes (any date, any field order), keyed by their _id's bytes.
RAW: CodecOptions = CodecOptions(document_class=RawBSONDocument, datetime_conversion=DatetimeConversion.DATETIME_AUTO)


def _by_id(collection: t.Any) -> dict[bytes, bytes]:
    return {bson.encode({"k": d["_id"]}, codec_options=RAW): d.raw for d in collection.find()}


def summary(source_uri: str, destination_uri: str) -> tuple[list[str], bool]:
    source: pymongo.MongoClient = pymongo.MongoClient(source_uri, document_class=RawBSONDocument)
    destination: pymongo.MongoClient = pymongo.MongoClient(destination_uri, document_class=RawBSONDocument)
    lines = [f"  {'namespace':<24}{'source':>8}{'copy':>8}  identical"]
    all_identical = True
    for database in sorted(name for name in source.list_database_names() if name.startswith("demo_")):
        for collection in sorted(source[database].list_collection_names()):
            original = _by_id(source[database].get_collection(collection, codec_options=RAW))
            copied = _by_id(destination[database].get_collection(collection, codec_options=RAW))
            identical = original == copied
            all_identical &= identical
            verdict = "yes" if identical else f"NO ({sum(copied.get(k) != v for k, v in original.items())} differ)"
            lines.append(f"  {database + '.' + collection:<24}{len(original):>8}{len(copied):>8}  {verdict}")
    source.close()
    destination.close()
    return lines, all_identical


if __name__ == "__main__":
    table, identical = summary(sys.argv[1], sys.argv[2])
    sys.stdout.write("\n".join(table) + "\n")
    sys.exit(0 if identical else 1)
