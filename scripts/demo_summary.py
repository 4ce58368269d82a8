"""Prints what the demo copied: documents per collection at source and destination."""

from __future__ import annotations

import sys
import typing as t

import bson

from mongodb_common.standin import CODEC_OPTIONS, connect


def _identical(source: object, destination: object) -> int:
    """Documents whose copy is the same BSON, byte for byte (types, values, field order)."""

    def by_id(collection: t.Any) -> dict[bytes, bytes]:
        return {bson.encode({"k": d["_id"]}): bson.encode(d, codec_options=CODEC_OPTIONS) for d in collection.find()}

    copied = by_id(destination)
    return sum(1 for key, raw in by_id(source).items() if copied.get(key) == raw)


def main(source_uri: str, destination_uri: str, seconds: str) -> None:
    source, destination = connect(source_uri), connect(destination_uri)
    lines = ["", f"meltano run tap-mongodb target-mongodb finished in {seconds} s:", ""]
    lines.append(f"  {'namespace':<28}{'source':>8}{'copied':>8}{'identical':>11}")
    for database in sorted(source.list_database_names()):
        for collection in sorted(source[database].list_collection_names()):
            original, copy = source[database][collection], destination[database][collection]
            lines.append(
                f"  {database + '.' + collection:<28}{original.count_documents({}):>8}"
                f"{copy.count_documents({}):>8}{_identical(original, copy):>11}"
            )
    lines += [
        "",
        "identical: copies equal to their source byte for byte in BSON (types, values, field order).",
        "Data lives in .demo/ (the embedded stand-in, for demos and tests only).",
        "Point it at a real MongoDB:",
        "  meltano --environment=prod config tap-mongodb set mongodb_uri 'mongodb://user:pass@host:27017/'",
        "  meltano --environment=prod config target-mongodb set mongodb_uri 'mongodb+srv://...'",
        "  meltano --environment=prod run tap-mongodb target-mongodb",
        "or see docs/quickstart.md.",
        "",
    ]
    sys.stdout.write("\n".join(lines))


if __name__ == "__main__":
    main(*sys.argv[1:4])
