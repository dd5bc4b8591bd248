"""JSON ⇄ models: camelCase on the wire, lenient where the API is inconsistent, strict on what we send.

Every serialization rule lives here, none on the models:

- field names are snake_case in Python and camelCase on the wire (one hook factory for all classes);
- unknown response keys are ignored (the API adds fields) unless ``forbid_extra_keys=True``, which the
  tests use on the documented examples to notice drift;
- ``progress`` is a number in most examples and a string in one doc page: both are accepted, and a
  missing or null progress is 0;
- a status the SDK does not know is kept (see ``Status``), not refused;
- a null list (``images``, ``buttons``) is an empty tuple;
- timestamps become timezone-aware datetimes (a naive one is taken as UTC): ISO 8601 with or without
  ``Z``, an offset or a fraction, RFC 1123 (``Tue, 01 Aug 2023 14:03:01 GMT``), epoch seconds or
  milliseconds (a number or a numeric string); an unreadable one is ``None``, never a failed answer;
- the history answer may be ``{"images": [...]}`` or the bare list;
- Flux's ``aspect_ratio``, ``output_format`` and ``output_quality`` are snake_case on the wire (doc);
- a part of ``contents`` is ``{"type": "text", "text": ...}`` or ``{"type": "image", "url": ...}``;
- optional request fields left as ``None`` are omitted from the body.

``load_json`` is the one JSON reader of answers and webhook bodies: bounded nesting and number
lengths, so that a hostile body is a ``ValueError`` (then a typed error), never a ``RecursionError``
or Python's own 4,300-digit refusal escaping from a handler.
"""

from __future__ import annotations

import email.utils
import json
import math
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any, TypeVar, cast

import attrs
import cattrs
from cattrs.gen import make_dict_structure_fn, make_dict_unstructure_fn, override
from cattrs.preconf.json import make_converter as _make_json_converter

from ._errors import ResponseValidationError
from ._models import FluxImagineRequest, HistoryPage, ImagePart, Message, Status, TextPart

__all__ = [
    "MAX_JSON_DEPTH",
    "MAX_NUMBER_CHARS",
    "camel",
    "describe_structure_error",
    "load_json",
    "make_converter",
    "parse_timestamp",
    "structure",
]

#: The deepest nesting of arrays and objects read (a Message is 3 deep).
MAX_JSON_DEPTH = 64
#: The longest number read, in characters (an epoch in milliseconds is 13 digits).
MAX_NUMBER_CHARS = 100

T = TypeVar("T")

#: Fields whose wire name is not the camelCase of their name (doc: Flux keeps snake_case).
_WIRE_NAMES: dict[type, dict[str, str]] = {
    FluxImagineRequest: {
        name: name for name in ("aspect_ratio", "output_format", "output_quality")
    },
}


def camel(name: str) -> str:
    """``originating_message_id`` → ``originatingMessageId``."""
    head, *rest = name.split("_")
    return head + "".join(part[:1].upper() + part[1:] for part in rest)


def load_json(raw: bytes | str) -> object:
    """``raw`` decoded as JSON, refusing what only a hostile sender would send.

    Raises:
        ValueError: not JSON (``UnicodeDecodeError`` and ``json.JSONDecodeError`` are ValueErrors),
            nested deeper than ``MAX_JSON_DEPTH``, or a number longer than ``MAX_NUMBER_CHARS``.
    """
    try:
        data = json.loads(raw, parse_int=_bounded_int, parse_float=_bounded_float)
    except RecursionError:
        raise ValueError(f"the JSON is nested deeper than {MAX_JSON_DEPTH} levels") from None
    _check_depth(data)
    return data


def _bounded_int(text: str) -> int:
    if len(text) > MAX_NUMBER_CHARS:
        raise ValueError(f"a number of {len(text)} characters (at most {MAX_NUMBER_CHARS})")
    return int(text)


def _bounded_float(text: str) -> float:
    if len(text) > MAX_NUMBER_CHARS:
        raise ValueError(f"a number of {len(text)} characters (at most {MAX_NUMBER_CHARS})")
    return float(text)


def _check_depth(data: object) -> None:
    """Walks without recursion: a body the decoder accepted may still be too deep for later code."""
    level: list[object] = [data]
    for _ in range(MAX_JSON_DEPTH + 1):
        nested: list[object] = []
        for item in level:
            if isinstance(item, dict):
                nested.extend(v for v in item.values() if isinstance(v, dict | list))
            elif isinstance(item, list):
                nested.extend(v for v in item if isinstance(v, dict | list))
        if not nested:
            return
        level = nested
    raise ValueError(f"the JSON is nested deeper than {MAX_JSON_DEPTH} levels")


def parse_timestamp(value: object) -> datetime | None:
    """A timezone-aware datetime from any timestamp format the server may send; None if unreadable."""
    if isinstance(value, str):
        text = value.strip()
        try:
            value = float(text)
        except ValueError:
            return _parse_date_text(text)
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    # Epoch seconds, or milliseconds when the number is too large to be seconds.
    seconds = value / 1000 if abs(value) > 1e11 else value
    try:
        return datetime.fromtimestamp(seconds, UTC)
    except (OverflowError, OSError, ValueError):
        return None


def _parse_date_text(text: str) -> datetime | None:
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        try:
            parsed = email.utils.parsedate_to_datetime(text)
        except (TypeError, ValueError, IndexError):
            return None
    return parsed if parsed.tzinfo is not None else parsed.replace(tzinfo=UTC)


def _structure_timestamp(value: object, _: object) -> datetime | None:
    return parse_timestamp(value)


def _structure_int(value: object, _: type[int]) -> int:
    if isinstance(value, bool):
        raise TypeError("expected a number, got a boolean")
    if isinstance(value, int):
        return value
    if isinstance(value, float):
        if not math.isfinite(value):
            raise ValueError(f"expected a finite number, got {value!r}")
        return int(value)
    if isinstance(value, str):
        number = float(value.strip().rstrip("%"))
        if not math.isfinite(number):
            raise ValueError(f"expected a finite number, got {value!r}")
        return int(number)
    raise TypeError(f"expected a number, got {type(value).__name__}")


def _structure_bool(value: object, _: type[bool]) -> bool:
    if isinstance(value, bool):
        return value
    if value in ("true", "false"):
        return value == "true"
    raise TypeError(f"expected true or false, got {value!r}")


def _structure_progress(value: object, _: type[int]) -> int:
    if value is None or value == "":
        return 0
    return max(0, min(100, _structure_int(value, int)))


def _structure_status(value: object, _: type[Status]) -> Status:
    if not isinstance(value, str) or not value:
        raise TypeError(f"expected a status string, got {value!r}")
    return Status(value)


def _structure_str_tuple(value: object, _: type[tuple[str, ...]]) -> tuple[str, ...]:
    if value is None:
        return ()
    if not isinstance(value, list | tuple):
        raise TypeError(f"expected a list of strings, got {type(value).__name__}")
    if not all(isinstance(item, str) for item in value):
        raise TypeError("expected a list of strings, found another type in it")
    return tuple(value)


def _structure_text(value: object, _: type[str]) -> str:
    # The server's free-text fields are sometimes objects (an error structure); keep them readable.
    if value is None:
        raise TypeError("expected a string, got null")
    return value if isinstance(value, str) else str(value)


def _structure_optional_id(value: object, _: object) -> str | None:
    return None if value is None else _structure_id(value, str)


def _structure_id(value: object, _: type[str]) -> str:
    # An id is used in URLs and journals: no leniency.
    if not isinstance(value, str):
        raise TypeError(f"expected an id string, got {type(value).__name__}")
    return value


def make_converter(*, forbid_extra_keys: bool = False) -> cattrs.Converter:
    """Build the one converter the client uses (``forbid_extra_keys`` is for drift tests)."""
    converter = _make_json_converter()
    converter.register_structure_hook_func(
        lambda t: t in (datetime, datetime | None), _structure_timestamp
    )
    converter.register_structure_hook(int, _structure_int)
    converter.register_structure_hook(bool, _structure_bool)
    converter.register_structure_hook(str, _structure_text)
    converter.register_structure_hook(Status, _structure_status)
    converter.register_structure_hook_func(lambda t: t == tuple[str, ...], _structure_str_tuple)

    def structure_factory(cls: type[T], conv: cattrs.Converter) -> Callable[[Any, Any], T]:
        overrides = {
            field.name: override(rename=camel(field.name)) for field in attrs.fields(cast(Any, cls))
        }
        if issubclass(cls, Message):
            overrides["progress"] = override(rename="progress", struct_hook=_structure_progress)
        for field in attrs.fields(cast(Any, cls)):
            if field.name in ("message_id", "originating_message_id", "id"):
                optional = field.default is None
                hook = _structure_optional_id if optional else _structure_id
                overrides[field.name] = override(rename=camel(field.name), struct_hook=hook)
        return make_dict_structure_fn(
            cls,
            conv,
            _cattrs_forbid_extra_keys=forbid_extra_keys,
            **overrides,  # type: ignore[arg-type]
        )

    def unstructure_factory(cls: type[Any], conv: cattrs.Converter) -> Callable[[Any], Any]:
        names = _WIRE_NAMES.get(cls, {})
        overrides = {
            field.name: override(
                rename=names.get(field.name, camel(field.name)), omit_if_default=True
            )
            for field in attrs.fields(cls)
        }
        return make_dict_unstructure_fn(cls, conv, **overrides)  # type: ignore[arg-type]

    converter.register_structure_hook_factory(attrs.has, structure_factory)
    converter.register_unstructure_hook_factory(attrs.has, unstructure_factory)
    history = converter.get_structure_hook(HistoryPage)

    def structure_history(value: object, cls: type[HistoryPage]) -> HistoryPage:
        page: HistoryPage = history({"images": value} if isinstance(value, list) else value, cls)
        return page

    converter.register_structure_hook(HistoryPage, structure_history)
    converter.register_unstructure_hook(TextPart, lambda part: {"type": "text", "text": part.text})
    converter.register_unstructure_hook(ImagePart, lambda part: {"type": "image", "url": part.url})
    return converter


def describe_structure_error(exc: Exception, cls: type[Any]) -> str:
    """A one-line account of why a response did not fit ``cls``."""
    if isinstance(exc, cattrs.BaseValidationError):
        details = "; ".join(cattrs.transform_error(exc))
    else:
        details = f"{type(exc).__name__}: {exc}"
    return f"the response is not a valid {cls.__name__}: {details}"


def structure(
    converter: cattrs.Converter, data: object, cls: type[T], *, method: str, url: str
) -> T:
    """Turn a decoded answer into ``cls``, or raise ``ResponseValidationError`` saying why."""
    try:
        return converter.structure(data, cls)
    except Exception as exc:
        raise ResponseValidationError(
            describe_structure_error(exc, cls),
            body=json.dumps(data, ensure_ascii=False, default=str)[:2000],
            method=method,
            url=url,
        ) from exc
