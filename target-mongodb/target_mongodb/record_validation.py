"""Record validation against the stream's schema: fastjsonschema, with the SDK's validator behind it.

The SDK's default validator interprets the schema for every record, which costs more than
the whole rest of a load; fastjsonschema compiles the schema once into Python code that
checks the same rules. Three things keep the compiled validator exact and crash-free on
any valid schema:

- Numbers in the schema (`minimum`, `multipleOf` ...) arrive as ``Decimal``, as records do;
  fastjsonschema would write them into its code as float literals, so `0.1` would exceed
  `Decimal("0.1")` and `19.99 / 0.01` would fail. They are written as ``Decimal`` literals.
- Defaults are never filled in (the record is stored as it came), and remote `$ref`s are
  never fetched (a SCHEMA message must not make the target open URLs).
- A schema fastjsonschema cannot compile, or a record its code cannot check (a NaN under
  `multipleOf`), is checked by the SDK's validator (jsonschema) instead; a record neither
  can check is invalid, with the reason.

Like the SDK's default, string formats are not enforced (a `date-time` string is checked
when it is converted to a date instead, with an error naming the value). Patterns Python's
`re` cannot read (ECMA-only syntax such as `\\p{L}`) cannot be enforced and are left out,
with a warning naming them.
"""

from __future__ import annotations

import decimal
import re
import typing as t

import fastjsonschema
import jsonschema
from singer_sdk.exceptions import InvalidJSONSchema, InvalidRecord
from singer_sdk.sinks.core import BaseJSONSchemaValidator
from singer_sdk.typing import DEFAULT_JSONSCHEMA_VALIDATOR

# Keywords whose numeric value fastjsonschema writes into the code it generates.
_NUMBER_KEYWORDS = frozenset({"minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum", "multipleOf"})
_COUNT_KEYWORDS = frozenset(
    {"minLength", "maxLength", "minItems", "maxItems", "minProperties", "maxProperties", "minContains", "maxContains"}
)
_REMOTE_SCHEMES = ("http", "https", "file", "ftp", "data")
# fastjsonschema's code generation, and jsonschema's check of a schema against the 2020-12
# meta-schema, grow much faster than the schema with its depth: documents nested 80 deep
# with arrays of themselves gave a schema each took over a minute to prepare (and
# fastjsonschema then failed). Such a schema is interpreted, unchecked; its records are
# still validated. Wide schemas stay compiled: their cost grows in proportion.
_PREPARED_DEPTH_AT_MOST = 80  # dictionaries: about 40 levels of documents
_PREPARED_SUBSCHEMAS_AT_MOST = 50_000


class _DecimalLiteral(decimal.Decimal):
    """A schema number fastjsonschema writes into its code as `Decimal('…')`, not as a float."""

    def __format__(self, spec: str) -> str:
        return f"Decimal('{decimal.Decimal.__str__(self)}')" if not spec else super().__format__(spec)


def _refuse_remote(uri: str) -> t.NoReturn:
    msg = f"remote $ref {uri!r} is not fetched"
    raise ValueError(msg)


def unreadable_patterns(schema: t.Any) -> list[str]:
    """Regular expressions of `pattern` and `patternProperties` that Python cannot compile."""
    found: list[str] = []

    def visit(node: t.Any) -> None:
        if isinstance(node, dict):
            pattern = node.get("pattern")
            if isinstance(pattern, str) and not _compiles(pattern):
                found.append(pattern)
            patterns = node.get("patternProperties")
            if isinstance(patterns, dict):
                found.extend(key for key in patterns if not _compiles(key))
            for value in node.values():
                visit(value)
        elif isinstance(node, list):
            for value in node:
                visit(value)

    visit(schema)
    return found


def _compiles(pattern: str) -> bool:
    try:
        re.compile(pattern)
    except (re.error, RecursionError):
        return False
    return True


def enforceable(schema: t.Any) -> t.Any:
    """The schema without the patterns Python cannot read (a copy; the input is untouched)."""
    if isinstance(schema, list):
        return [enforceable(value) for value in schema]
    if not isinstance(schema, dict):
        return schema
    copied: dict[str, t.Any] = {}
    for key, value in schema.items():
        if key == "pattern" and isinstance(value, str) and not _compiles(value):
            continue
        if key == "patternProperties" and isinstance(value, dict):
            copied[key] = {name: enforceable(sub) for name, sub in value.items() if _compiles(name)}
            continue
        copied[key] = enforceable(value)
    return copied


def _for_fastjsonschema(schema: t.Any) -> t.Any:
    """Schema numbers as fastjsonschema must see them to compare exactly with Decimal values."""
    if isinstance(schema, list):
        return [_for_fastjsonschema(value) for value in schema]
    if not isinstance(schema, dict):
        return schema
    prepared: dict[str, t.Any] = {}
    for key, value in schema.items():
        if isinstance(value, decimal.Decimal) and value.is_finite() and key in _NUMBER_KEYWORDS | _COUNT_KEYWORDS:
            prepared[key] = int(value) if value == value.to_integral_value() else _DecimalLiteral(value)
        else:
            prepared[key] = _for_fastjsonschema(value)
    return prepared


def _formats(schema: t.Any, found: set[str]) -> set[str]:
    if isinstance(schema, dict):
        if isinstance(schema.get("format"), str):
            found.add(schema["format"])
        for value in schema.values():
            _formats(value, found)
    elif isinstance(schema, list):
        for value in schema:
            _formats(value, found)
    return found


def _too_large_to_prepare(schema: t.Any) -> bool:
    """Deeper or larger than compiling or meta-checking handles in reasonable time."""
    pending: list[tuple[t.Any, int]] = [(schema, 0)]
    seen = 0
    while pending:
        node, depth = pending.pop()
        if isinstance(node, dict):
            seen += 1
            if seen > _PREPARED_SUBSCHEMAS_AT_MOST or depth > _PREPARED_DEPTH_AT_MOST:
                return True
            pending.extend((value, depth + 1) for value in node.values())
        elif isinstance(node, list):
            pending.extend((item, depth) for item in node)
    return False


def _any_value(_value: t.Any) -> bool:
    return True


class InterpretingValidator(BaseJSONSchemaValidator):
    """The SDK's validator (jsonschema, formats not enforced), for what fastjsonschema cannot do.

    Unlike the SDK's class, a schema nested deeper than the meta-schema check can follow
    (MongoDB documents nest 100 levels; checking such a schema needs thrice Python's default
    recursion limit), or too large to check in reasonable time, is used unchecked: its
    records are still validated.
    """

    def __init__(self, schema: dict[str, t.Any]) -> None:
        super().__init__(schema)
        try:
            if not _too_large_to_prepare(schema):
                DEFAULT_JSONSCHEMA_VALIDATOR.check_schema(schema)
        except jsonschema.SchemaError as exc:
            msg = f"the stream's schema is not valid JSON Schema: {exc.message}"
            raise InvalidJSONSchema(msg) from exc
        except RecursionError:
            pass
        self._validator = DEFAULT_JSONSCHEMA_VALIDATOR(schema, format_checker=jsonschema.FormatChecker(formats=()))

    def validate(self, record: dict[str, t.Any]) -> None:
        try:
            self._validator.validate(record)
        except jsonschema.ValidationError as exc:
            raise InvalidRecord(exc.message, record) from exc


class FastRecordValidator(BaseJSONSchemaValidator):
    """fastjsonschema's compiled check, or the SDK's validator where that cannot work.

    Raises the SDK's `InvalidJSONSchema` only for a schema neither accepts.
    """

    def __init__(self, schema: dict[str, t.Any]) -> None:
        super().__init__(schema)
        self._enforceable = enforceable(schema)
        self._fallback: InterpretingValidator | None = None
        self._validate: t.Callable[[t.Any], t.Any] | None
        formats = dict.fromkeys(_formats(schema, set()), _any_value)
        try:
            if _too_large_to_prepare(schema):
                msg = "too large a schema to compile"
                raise ValueError(msg)  # the same fallback as any compile failure
            self._validate = fastjsonschema.compile(
                _for_fastjsonschema(self._enforceable),
                formats=formats,
                use_default=False,
                handlers=dict.fromkeys(_REMOTE_SCHEMES, _refuse_remote),
            )
        except Exception:
            self._validate = None
            self._fallback = InterpretingValidator(self._enforceable)  # raises InvalidJSONSchema if invalid

    @property
    def compiled(self) -> bool:
        """True when records are checked by fastjsonschema's compiled code."""
        return self._validate is not None

    def validate(self, record: dict[str, t.Any]) -> None:
        if self._validate is not None:
            try:
                self._validate(record)
            except fastjsonschema.JsonSchemaValueException as exc:
                raise InvalidRecord(exc.message, record) from exc
            except Exception:
                pass
            else:
                return
        self._validate_slowly(record)

    def _validate_slowly(self, record: dict[str, t.Any]) -> None:
        if self._fallback is None:
            self._fallback = InterpretingValidator(self._enforceable)
        try:
            self._fallback.validate(record)
        except InvalidRecord:
            raise
        except Exception as exc:
            msg = f"the record cannot be checked against the stream's schema ({type(exc).__name__}: {exc})"
            raise InvalidRecord(msg, record) from exc
