"""Command-line flags made from the Settings model: one `--kebab-name` per setting, `--set
key=value`, `--config`, and the check for MOCK_HYBER_* variables that name no setting.

Every value reaches Settings as text and is parsed exactly as its environment variable would be
(config.load_settings), so a flag, `--set` and MOCK_HYBER_<NAME> accept the same spellings."""

from __future__ import annotations

import argparse
import difflib
import typing
from collections.abc import Iterable, Mapping
from datetime import datetime
from pathlib import Path
from typing import Any

from pydantic.fields import FieldInfo
from pydantic_core import PydanticUndefined

from mock_hyber.config import CONFIG_VARIABLE, Settings

ENV_PREFIX = "MOCK_HYBER_"
# Fields whose values are lists of objects: their flags take the environment variable's text.
# Short spellings kept for flags that existed before the generated ones (shown in the docs).
_ALIASES = {"store_repair": ("--repair",)}
_FORMATS = {
    "accounts": "client_id:login:password,... or a JSON list",
    "callback_allowed_hosts": "comma-separated hosts",
}


def add_settings_arguments(parser: argparse.ArgumentParser) -> None:
    """`--config`, repeatable `--set key=value`, and one flag per setting."""
    parser.add_argument(
        "--config", metavar="FILE", help=f"YAML or JSON settings file (or {CONFIG_VARIABLE})"
    )
    parser.add_argument(
        "--set",
        dest="set_values",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="any setting, as its environment variable would give it (repeatable)",
    )
    group = parser.add_argument_group(
        "settings", f"each also {ENV_PREFIX}<NAME>; flags beat --set beat the environment"
    )
    for name, field in Settings.model_fields.items():
        _add_flag(group, name, field)


def _add_flag(group: argparse._ArgumentGroup, name: str, field: FieldInfo) -> None:
    flag = "--" + name.replace("_", "-")
    kind = _plain_type(field.annotation)
    help_text = _help(name, field)
    if kind is bool:
        group.add_argument(
            flag, dest=f"flag_{name}", action=argparse.BooleanOptionalAction, help=help_text
        )
        for alias in _ALIASES.get(name, ()):
            group.add_argument(
                alias, dest=f"flag_{name}", action="store_true", help=argparse.SUPPRESS
            )
        return
    choices = typing.get_args(kind) if typing.get_origin(kind) is typing.Literal else None
    group.add_argument(
        flag,
        dest=f"flag_{name}",
        choices=choices,
        metavar=None if choices else _metavar(kind),
        help=help_text,
    )


def _plain_type(annotation: Any) -> Any:
    """`X | None` -> X; anything else as it is."""
    args = [arg for arg in typing.get_args(annotation) if arg is not type(None)]
    if typing.get_origin(annotation) in (typing.Union, _UNION_TYPE) and len(args) == 1:
        return args[0]
    return annotation


_UNION_TYPE = type(int | None)


def _metavar(kind: Any) -> str:
    for python_type, metavar in ((bool, "BOOL"), (int, "N"), (float, "X"), (Path, "PATH")):
        if kind is python_type:
            return metavar
    return "TIME" if kind is datetime else "TEXT"


def _help(name: str, field: FieldInfo) -> str:
    parts = [field.description or _FORMATS.get(name, "")]
    if field.default not in (None, PydanticUndefined):
        parts.append(f"default {field.default}")
    # argparse formats help with %: a literal one must be doubled.
    return "; ".join(part for part in parts if part).replace("%", "%%")


def setting_values(args: argparse.Namespace, parser: argparse.ArgumentParser) -> dict[str, str]:
    """The settings given on the command line, as text: `--set` pairs, then flags on top."""
    values: dict[str, str] = {}
    for pair in args.set_values:
        key, sep, text = pair.partition("=")
        key = key.strip().lower().replace("-", "_")
        if not sep or not key:
            parser.error(f"--set takes KEY=VALUE, got {key or pair.partition('=')[0]!r}")
        if key not in Settings.model_fields:
            parser.error(f"--set: unknown setting {key!r}{_suggestion(key, Settings.model_fields)}")
        values[key] = text
    for name in Settings.model_fields:
        given = getattr(args, f"flag_{name}", None)
        if given is not None:
            values[name] = ("true" if given else "false") if isinstance(given, bool) else given
    return values


def unknown_variables(environ: Mapping[str, str]) -> list[str]:
    """One warning per MOCK_HYBER_* variable that is no setting: its name (never its value)
    and the closest setting's variable, if one is close."""
    known = {ENV_PREFIX + name.upper() for name in Settings.model_fields} | {CONFIG_VARIABLE}
    warnings = []
    for variable in sorted(environ):
        upper = variable.upper()
        if upper.startswith(ENV_PREFIX) and upper not in known:
            hint = _suggestion(upper, known)
            warnings.append(f"unknown environment variable {variable} is ignored{hint}")
    return warnings


def _suggestion(word: str, candidates: Iterable[str]) -> str:
    close = difflib.get_close_matches(word, list(candidates), n=1, cutoff=0.75)
    return f" (did you mean {close[0]}?)" if close else ""
