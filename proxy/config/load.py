"""Reading ``dpsql.yaml``: strict YAML (a key given twice is refused), ``${VAR}``
substitution from the environment, validation into :class:`~proxy.config.Config`
with every problem reported at once as ``key.path: what is wrong``, and relative
paths made relative to the file's folder."""

from __future__ import annotations

import os
import re
import types
import typing
from pathlib import Path
from typing import Annotated, Any

import yaml
from pydantic import BaseModel, ValidationError

from .deployment import Config
from .sections import SQLITE_PREFIX, ConfigError, join_problems


def _branch(annotation: Any, tag: str) -> Any:
    """The member of a union that pydantic named ``tag`` in an error location."""
    for member in typing.get_args(annotation):
        origin = typing.get_origin(member) or member
        name = getattr(origin, "__name__", "")
        if tag == name or tag.startswith(f"{name}["):
            return member
    return None


def _readable_loc(loc: tuple[int | str, ...]) -> tuple[str, Any]:
    """Drop the union-member tags pydantic inserts, keeping keys the user wrote.

    Walking the model's annotations tells tags apart from user keys, so a column
    the owner named ``date`` or ``int`` is never mistaken for a tag. Also returns
    the type holding the last key, to list the keys it does accept.
    """
    parts: list[str] = []
    annotation: Any = Config
    container: Any = None
    for part in loc:
        while typing.get_origin(annotation) is Annotated:
            annotation = typing.get_args(annotation)[0]
        if isinstance(annotation, types.UnionType) or typing.get_origin(annotation) is typing.Union:
            members = [a for a in typing.get_args(annotation) if a is not type(None)]
            if len(members) == 1:
                annotation = members[0]
            elif isinstance(part, str):
                annotation = _branch(annotation, part)
                continue
        parts.append(str(part))
        container = annotation
        if isinstance(annotation, type) and issubclass(annotation, BaseModel):
            field = annotation.model_fields.get(str(part))
            annotation = field.annotation if field is not None else None
        elif typing.get_origin(annotation) is dict:
            annotation = typing.get_args(annotation)[1]
        elif typing.get_origin(annotation) in (tuple, list):
            annotation = typing.get_args(annotation)[0]
        else:
            annotation = None
    return ".".join(parts), container


_PREFIXES = ("Value error, ", "Assertion failed, ")


def _message(item: Any, container: Any) -> str:
    if item["type"] == "extra_forbidden":
        if isinstance(container, type) and issubclass(container, BaseModel):
            return "unknown key; expected one of " + ", ".join(container.model_fields)
        return "unknown key; check the spelling"
    message: str = item["msg"]
    for prefix in _PREFIXES:
        message = message.removeprefix(prefix)
    return message


def _describe(error: ValidationError) -> list[str]:
    merged: dict[str, list[tuple[str, str]]] = {}
    for item in error.errors(include_url=False):
        path, container = _readable_loc(item["loc"])
        found = merged.setdefault(path or "(top level)", [])
        entry = (_message(item, container), item["type"])
        if entry not in found:
            found.append(entry)
    lines = []
    for path, entries in merged.items():
        # A union member that failed on the value's shape (e.g. "a valid tuple")
        # is noise when another member got further and reported deeper keys.
        deeper = any(other.startswith(path + ".") for other in merged)
        kept = [m for m, kind in entries if not (deeper and kind.endswith("_type"))]
        if kept:
            lines.append(f"{path}: {' or '.join(kept)}")
    return lines


# --- loading --------------------------------------------------------------------


class _StrictLoader(yaml.SafeLoader):
    """SafeLoader that refuses a key given twice instead of keeping the last."""


def _mapping_without_duplicates(loader: _StrictLoader, node: yaml.MappingNode) -> Any:
    loader.flatten_mapping(node)
    seen: set[Any] = set()
    for key_node, _ in node.value:
        key = loader.construct_object(key_node)
        try:
            duplicate = key in seen
        except TypeError:
            continue  # unhashable key: construct_mapping reports it
        if duplicate:
            raise yaml.constructor.ConstructorError(
                None, None, f"key {key!r} appears twice", key_node.start_mark
            )
        seen.add(key)
    return loader.construct_mapping(node)


_StrictLoader.add_constructor(
    yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG,
    _mapping_without_duplicates,  # type: ignore[arg-type]
)


def _read_yaml(path: Path) -> object:
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(f"{path}: no such file") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: cannot be read ({exc.__class__.__name__})") from None
    try:
        return yaml.load(text, Loader=_StrictLoader)  # noqa: S506 - a SafeLoader subclass
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problem = exc.problem or exc.context or "syntax error"
        raise ConfigError(f"{path}: invalid YAML{where}: {problem}") from None
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path}: invalid YAML: {exc}") from None


# `${NAME}` or `${NAME:-default}` in a string value; `$${` writes a literal `${`.
_VARIABLE = re.compile(r"\$\$\{|\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}")


def substitute_environment(data: object, environ: typing.Mapping[str, str] | None = None,
                           path: str = "") -> object:
    """Replace `${VAR}` in the YAML's string values by the environment's value, so
    that secrets (DSNs with passwords, key hashes) need not live in the file.

    Substitution runs on parsed values, never on the YAML text, so a value cannot
    change the document's structure; an unset variable without a default is an
    error naming its key path.
    """
    env = os.environ if environ is None else environ
    if isinstance(data, dict):
        return {k: substitute_environment(v, env, f"{path}.{k}" if path else str(k))
                for k, v in data.items()}
    if isinstance(data, list):
        return [substitute_environment(v, env, f"{path}.{i}") for i, v in enumerate(data)]
    if not isinstance(data, str) or "$" not in data:
        return data

    def value(match: re.Match[str]) -> str:
        if match.group(0) == "$${":
            return "${"
        name, default = match.group(1), match.group(2)
        if name in env:
            return env[name]
        if default is not None:
            return default
        raise ConfigError(f"invalid configuration:\n  {path}: the environment variable "
                          f"{name} is not set (write ${{{name}:-default}} for a default)")

    return _VARIABLE.sub(value, data)


def parse_config(data: object) -> Config:
    """Validate already-parsed YAML; every problem is reported in one ConfigError."""
    if not isinstance(data, dict):
        raise ConfigError(
            "invalid configuration:\n  (top level): expected a mapping with `engine`, "
            f"`tables`, ... but got {type(data).__name__}"
        )
    try:
        return Config.model_validate(data)
    except ValidationError as exc:
        raise ConfigError(join_problems(_describe(exc))) from None


def _resolve(config: Config, folder: Path) -> Config:
    """Make relative paths relative to the config file, not the working folder."""
    engine = config.engine
    if engine.database is not None and not engine.database.is_absolute():
        engine = engine.model_copy(update={"database": folder / engine.database})
    ledger = config.ledger
    if ledger.url.startswith(SQLITE_PREFIX):
        target = ledger.url.removeprefix(SQLITE_PREFIX)
        if target != ":memory:" and not Path(target).is_absolute():
            ledger = ledger.model_copy(update={"url": SQLITE_PREFIX + str(folder / target)})
    tls = config.tls
    if tls is not None:
        tls = tls.model_copy(update={
            "certfile": tls.certfile if tls.certfile.is_absolute() else folder / tls.certfile,
            "keyfile": tls.keyfile if tls.keyfile.is_absolute() else folder / tls.keyfile})
    if ledger.checkpoints is not None:
        paths = {name: folder / value for name in ("key_file", "file")
                 if (value := getattr(ledger.checkpoints, name)) is not None
                 and not value.is_absolute()}
        ledger = ledger.model_copy(
            update={"checkpoints": ledger.checkpoints.model_copy(update=paths)})
    return config.model_copy(update={"engine": engine, "ledger": ledger, "tls": tls})


def load_config(path: str | Path) -> Config:
    """Read, validate and resolve ``dpsql.yaml``; raise ConfigError on any problem."""
    path = Path(path)
    config = parse_config(substitute_environment(_read_yaml(path)))
    return _resolve(config, path.resolve().parent)
