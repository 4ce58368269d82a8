"""The BSON codec: BSON values to Singer JSON values and back (see docs/bson-types.md)."""

from mongodb_common.bson_codec.singer_decoding import (
    ExtendedJsonError,
    decode_plain,
    decode_value,
    is_extended_json_wrapper,
    wrapper_decoder,
)
from mongodb_common.bson_codec.singer_encoding import (
    ENCODINGS,
    EXTENDED_JSON,
    PLAIN,
    UnsupportedBsonValueError,
    encode_extended_json,
    encode_plain,
    get_encoder,
)

__all__ = [
    "ENCODINGS",
    "EXTENDED_JSON",
    "PLAIN",
    "ExtendedJsonError",
    "UnsupportedBsonValueError",
    "decode_plain",
    "decode_value",
    "encode_extended_json",
    "encode_plain",
    "get_encoder",
    "is_extended_json_wrapper",
    "wrapper_decoder",
]
