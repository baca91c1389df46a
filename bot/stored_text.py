"""A sentence of the bot's stored for readers to come (why a job failed): its message id and its
values as JSON, written in each reader's language when it is shown.

A row written before sentences were stored this way holds plain English: it is shown as it is,
translated when it is a message of the catalogs (the sentences that took no values), and a
job's timeout is recognised and written anew.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import Any, Final

from bot.i18n import Command, Localized, Number, Term, Text, command, nlazy

# The old English of a job's timeout (bot/job_loop.py), as rows before JSON hold it.
_OLD_TIMEOUT: Final = re.compile(
    r"AKOOL had not finished after (\d+) minutes, so the bot stopped waiting\. It may still "
    r"finish: check later with /status (\S+)\."
)
# What every stored sentence starts with, so plain English can never be mistaken for one.
_KEY: Final = "text"


def dump(text: Text) -> str:
    """``text`` as it is stored."""
    return json.dumps(_encoded(text), ensure_ascii=False, sort_keys=True)


def load(stored: str) -> Text:
    """What :func:`dump` stored, or an older row's English."""
    if stored.startswith("{"):
        try:
            data = json.loads(stored)
        except ValueError:
            data = None
        if isinstance(data, dict) and isinstance(data.get(_KEY), str):
            try:
                return _decoded_text(data)
            except (KeyError, TypeError, ValueError):
                pass
    old = _OLD_TIMEOUT.fullmatch(stored)
    if old is not None:
        return timed_out(int(old[1]), old[2])
    return Text(stored)


def timed_out(minutes: int, akool_id: str) -> Text:
    """Why a job failed when AKOOL took longer than the bot waits."""
    # Here rather than in the job loop, so that an old row reads as a new one does.
    return nlazy(
        "AKOOL had not finished after {n} minute, so the bot stopped waiting. It may still "
        "finish: check later with {command} {job}.",
        "AKOOL had not finished after {n} minutes, so the bot stopped waiting. It may still "
        "finish: check later with {command} {job}.",
        minutes,
        command=command("status"),
        job=akool_id,
    )


def _encoded(text: Text) -> dict[str, Any]:
    data: dict[str, Any] = {_KEY: text.message}
    if text.plural is not None:
        data["plural"] = text.plural
        data["n"] = text.n
    if text.params:
        data["params"] = {k: _value(v) for k, v in text.params.items()}
    return data


def _value(value: object) -> object:
    if isinstance(value, Text):
        return {"$text": _encoded(value)}
    if isinstance(value, Command):
        return {"$command": value.path}
    if isinstance(value, Term):
        return {"$term": [value.context, value.message]}
    if isinstance(value, Number):
        return {"$number": value.value}
    if isinstance(value, Localized):
        raise TypeError(f"cannot store a {type(value).__name__}")
    if isinstance(value, str | int | float) or value is None:
        return value
    return str(value)


def _decoded_text(data: Mapping[str, Any]) -> Text:
    params = {k: _decoded(v) for k, v in dict(data.get("params") or {}).items()}
    plural = data.get("plural")
    if plural is None:
        return Text(str(data[_KEY]), params=params)
    return Text(str(data[_KEY]), str(plural), int(data["n"]), params)


def _decoded(value: object) -> object:
    if not isinstance(value, dict):
        return value
    if "$text" in value:
        return _decoded_text(value["$text"])
    if "$command" in value:
        return Command(str(value["$command"]))
    if "$term" in value:
        context, message = value["$term"]
        return Term(str(context), str(message))
    if "$number" in value:
        return Number(value["$number"])
    raise ValueError("an unknown stored value")
