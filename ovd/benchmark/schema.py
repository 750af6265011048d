"""Parsed YAML (mappings, lists, scalars) -> dataclasses, checked against the fields' types; errors name the key.

A field's annotation says what its value may be: ``str``, ``int`` (not a bool), ``float``, ``bool``, ``Any``,
``Optional[T]``, ``List[T]``, ``Tuple[T, ...]`` (read from a list), ``Dict[str, T]`` or another dataclass (read from
a mapping). A field without a default is a required key; a key that is not a field is refused. A field may add a
rule, ``field(metadata={'check': fn})``: ``fn(value)`` runs before the type check and returns the value to keep
(possibly converted, e.g. a number to a string) or raises :class:`Invalid` saying what was expected.

Errors read ``<file>: <key path>: <what is wrong>``, e.g. ``demo.yaml: experiments[1].seeds[0]: expected an
integer seed, got 'a'``.
"""
import dataclasses
import typing
from typing import Any, Callable, Dict, Mapping, Type, TypeVar

T = TypeVar('T')


class SchemaError(ValueError):
    """A value does not fit the schema; the message names the file and the key path."""


class Invalid(ValueError):
    """Raised by a field's ``check``: ``message`` says what was expected; ``at`` is a sub-path (``[1]``, ``.x``)."""

    def __init__(self, message: str, at: str = '') -> None:
        super().__init__(message)
        self.at = at


def check(fn: Callable[[Any], Any]) -> Dict[str, Any]:
    """Field metadata that adds the rule ``fn`` (see the module docstring)."""
    return {'check': fn}


def _where(source: str, path: str) -> str:
    return f'{source}: {path}' if path else source


def _describe(value: Any) -> str:
    text = repr(value)
    return f'{type(value).__name__} {text if len(text) <= 60 else text[:57] + "..."}'


def convert(tp: Any, value: Any, source: str, path: str) -> Any:
    """``value`` checked against the type ``tp`` (and converted: lists to tuples, mappings to dataclasses)."""
    origin, args = typing.get_origin(tp), typing.get_args(tp)
    if tp is Any:
        return value
    if origin is typing.Union:  # Optional[X]
        if value is None and type(None) in args:
            return None
        inner = [a for a in args if a is not type(None)]
        return convert(inner[0], value, source, path)
    if dataclasses.is_dataclass(tp):
        return parse(tp, value, source, path)
    if origin in (list, tuple):
        if not isinstance(value, list):
            raise SchemaError(f'{_where(source, path)}: expected a list, got {_describe(value)}')
        items = [convert(args[0], v, source, f'{path}[{i}]') for i, v in enumerate(value)]
        return tuple(items) if origin is tuple else items
    if origin is dict:
        if not isinstance(value, dict):
            raise SchemaError(f'{_where(source, path)}: expected a mapping, got {_describe(value)}')
        return {k: convert(args[1], v, source, f'{path}.{k}') for k, v in value.items()}
    expected = {str: 'a string', int: 'an integer', float: 'a number', bool: 'true or false'}[tp]
    ok = isinstance(value, tp) and (tp is bool or not isinstance(value, bool))
    if tp is float:
        ok = isinstance(value, (int, float)) and not isinstance(value, bool)
    if not ok:
        raise SchemaError(f'{_where(source, path)}: expected {expected}, got {_describe(value)}')
    return value


def parse_fields(cls: Type[Any], data: Any, source: str, path: str = '') -> Dict[str, Any]:
    """The given keys of the mapping ``data``, each checked against ``cls``'s field of that name.

    Raises:
        SchemaError: ``data`` is not a mapping, has a key that is not a field, or a value does not fit.
    """
    if not isinstance(data, Mapping):
        raise SchemaError(f'{_where(source, path)}: expected a mapping, got {_describe(data)}')
    fields = {f.name: f for f in dataclasses.fields(cls)}
    unknown = sorted(str(k) for k in set(data) - set(fields))
    if unknown:
        raise SchemaError(f'{_where(source, path)}: unknown key(s) {unknown}; allowed: {sorted(fields)}')
    hints = typing.get_type_hints(cls)
    out: Dict[str, Any] = {}
    for key, value in data.items():
        at = f'{path}.{key}' if path else key
        rule = fields[key].metadata.get('check')
        if rule is not None:
            try:
                value = rule(value)
            except Invalid as err:
                raise SchemaError(f'{_where(source, at + err.at)}: {err}') from None
        out[key] = convert(hints[key], value, source, at)
    return out


def parse(cls: Type[T], data: Any, source: str, path: str = '') -> T:
    """An instance of the dataclass ``cls`` from the mapping ``data`` (defaults for the keys it leaves out).

    Args:
        cls: the dataclass (the schema).
        data: the parsed YAML/JSON value.
        source: the file, for the messages.
        path: the key path of ``data`` in the file ('' for the whole file).

    Raises:
        SchemaError: naming the file, the key path and what is wrong.
    """
    values = parse_fields(cls, data, source, path)
    missing = [f.name for f in dataclasses.fields(cls) if f.name not in values
               and f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING]
    if missing:
        raise SchemaError(f'{_where(source, path)}: missing key(s) {missing}')
    return cls(**values)
