"""What a record process does with a batch: each document to its RECORD line, or back to the tap.

A document that fits the declared schema as it was when the process was forked becomes its
finished line(s) and its bookmark position. One that does not goes back as its raw bytes, for
the tap to admit exactly as it would without record processes (widening the schema and
writing SCHEMA first): a process never changes the schema, and never writes a record the
schema it knows does not allow. A record written under an older schema fits the widened one
too, and its encoding does not depend on the schema, so its line stays right after a change.
"""

from __future__ import annotations

import typing as t

import bson

from tap_mongodb.raw_documents import split_batch

if t.TYPE_CHECKING:
    from bson.codec_options import CodecOptions

# What a record process hands back for one document: its lines and position, or its raw bytes.
Converted: t.TypeAlias = tuple[bytes, t.Any] | bytes


class EncodedRecord(dict):  # type: ignore[type-arg] - an empty record: the SDK's loop only counts it
    """A record a record process has already written as its RECORD line(s).

    It goes through the SDK's sync loop like any record (counted, limited, its position
    bookmarked after it is written), and the stream writes `lines` as they are. The tap makes
    it (read_ahead.py) from the (lines, position) pair a process hands back.
    """

    __slots__ = ("lines", "position")

    def __init__(self, lines: bytes, position: t.Any) -> None:
        super().__init__()
        self.lines = lines
        self.position = position


def batch_converter(
    codec_options: CodecOptions,
    encode_if_fits: t.Callable[[dict[str, t.Any]], dict[str, t.Any] | None],
    lines_of: t.Callable[[dict[str, t.Any]], bytes],
    position_of: t.Callable[[dict[str, t.Any]], t.Any],
) -> t.Callable[[bytes], list[Converted]]:
    """The conversion a record process applies to each batch it is given."""
    decode = bson.decode

    def convert(batch: bytes) -> list[Converted]:
        converted: list[Converted] = []
        for raw in split_batch(batch):
            document = decode(raw, codec_options)
            record = encode_if_fits(document)
            converted.append(bytes(raw) if record is None else (lines_of(record), position_of(document)))
        return converted

    return convert
