"""One options type per request, read alike from the command line and from the worker's JSON.

A request's options are a frozen dataclass whose fields are declared with `option(...)`: the default, the help text
and the allowed values live there once. `add_arguments` turns the fields into command-line flags (`--pose-strength`;
a boolean that defaults to on becomes `--no-blinks`), `from_arguments` reads them back, and `from_params` reads the
same fields from a request's JSON object, checking each value's type. So an option exists on both paths or on
neither, and the add-on's request records are tested against the same fields (tests/backend/core/test_options.py).
"""

from __future__ import annotations

import argparse
import dataclasses
import math
import types
import typing
from collections.abc import Mapping, Sequence
from typing import Any, TypeVar

from backend.core.errors import AdaMeshError

Options = TypeVar("Options")


class OptionError(AdaMeshError):
    """A request's option is missing, of the wrong type or out of its allowed values."""

    code = "bad_request"


def option(default: Any, help: str, choices: Sequence[Any] | None = None, flag: str | None = None) -> Any:
    """A dataclass field for an options type. `flag` overrides the command-line spelling (default: --field-name)."""
    return dataclasses.field(default=default, metadata={"help": help, "choices": choices, "flag": flag})


def _base_type(cls: type, name: str) -> type:
    """The field's type without `| None` (int, float, str or bool)."""
    hint = typing.get_type_hints(cls)[name]
    if isinstance(hint, types.UnionType) or typing.get_origin(hint) is typing.Union:
        hint = next(arg for arg in typing.get_args(hint) if arg is not type(None))
    return hint


def _flag(field: dataclasses.Field) -> str:
    return field.metadata.get("flag") or "--" + field.name.replace("_", "-")


def add_arguments(parser: argparse.ArgumentParser, cls: type) -> None:
    """Command-line flags for every option of `cls`."""
    for field in dataclasses.fields(cls):
        kind, help_text = _base_type(cls, field.name), field.metadata["help"]
        if kind is bool:
            if field.default:
                parser.add_argument(
                    _flag(field).replace("--", "--no-", 1), dest=field.name, action="store_false", help=help_text
                )
            else:
                parser.add_argument(_flag(field), dest=field.name, action="store_true", help=help_text)
            continue
        parser.add_argument(
            _flag(field),
            dest=field.name,
            type=kind,
            default=field.default,
            choices=field.metadata.get("choices"),
            help=help_text,
        )


def from_arguments(cls: type[Options], args: argparse.Namespace, **overrides: Any) -> Options:
    """The options of `cls` from parsed command-line arguments (`overrides` win)."""
    values = {field.name: getattr(args, field.name) for field in dataclasses.fields(cls)}
    return cls(**(values | overrides))


def from_params(cls: type[Options], params: Mapping[str, Any], request: str) -> Options:
    """The options of `cls` from a request's JSON object: absent or null keeps the default; a wrong type or a value
    outside the allowed ones is an OptionError naming the request, the key and what it needs. Keys that are not
    options are left to the request's own parsing."""
    values = {}
    for field in dataclasses.fields(cls):
        value = params.get(field.name)
        if value is None:
            continue
        kind = _base_type(cls, field.name)
        accepted = (int, float) if kind is float else kind  # JSON writes 2.0 as 2
        if not isinstance(value, accepted) or (isinstance(value, bool) and kind is not bool):
            raise OptionError(f"{request} needs '{field.name}' ({kind.__name__}), got {value!r}")
        if kind is float and not math.isfinite(value):
            raise OptionError(f"{request} needs '{field.name}' as a finite number, got {value!r}")
        choices = field.metadata.get("choices")
        if choices is not None and value not in choices:
            raise OptionError(f"{request}: '{field.name}' must be one of {', '.join(map(str, choices))}, got {value!r}")
        values[field.name] = kind(value)
    return cls(**values)


def option_names(cls: type) -> tuple[str, ...]:
    return tuple(field.name for field in dataclasses.fields(cls))
