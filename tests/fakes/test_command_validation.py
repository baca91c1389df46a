"""The fake refuses command definitions Discord refuses, localizations included."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from tests.fakes.discord_server.command_validation import command_errors

GOOD: dict[str, Any] = {
    "name": "imagine",
    "name_localizations": {"ja": "画像生成", "de": "bild"},
    "description": "Create images",
    "description_localizations": {"ja": "画像を作成します"},
    "type": 1,
    "options": [
        {
            "name": "aspect",
            "name_localizations": {"fr": "format"},
            "description": "Shape",
            "type": 3,
            "choices": [
                {"name": "1:1 square", "value": "1:1", "name_localizations": {"de": "1:1"}}
            ],
        }
    ],
}


def _with(path: list[str | int], value: object) -> list[dict[str, Any]]:
    body = copy.deepcopy(GOOD)
    target: Any = body
    for step in path[:-1]:
        target = target[step]
    target[path[-1]] = value
    return [body]


def test_a_valid_definition_passes():
    assert command_errors([GOOD]) is None


@pytest.mark.parametrize(
    ("path", "value", "field"),
    [
        (["name_localizations", "de"], "Bild", ["0", "name_localizations", "de"]),
        (["name_localizations", "ja"], "画像 生成", ["0", "name_localizations", "ja"]),
        (["name_localizations", "xx"], "bild", ["0", "name_localizations", "xx"]),
        (["description_localizations", "ja"], "x" * 101, ["0", "description_localizations", "ja"]),
        (
            ["options", 0, "name_localizations", "fr"],
            "x" * 33,
            ["0", "options", "0", "name_localizations", "fr"],
        ),
        (
            ["options", 0, "choices", 0, "name_localizations", "de"],
            "",
            ["0", "options", "0", "choices", "0", "name_localizations", "de"],
        ),
        (["options", 0, "name"], "Aspect", ["0", "options", "0", "name"]),
    ],
)
def test_a_broken_localization_is_refused_where_it_is(path, value, field):
    error = command_errors(_with(path, value))
    assert error is not None
    assert error["code"] == 50035
    node = error["errors"]
    for step in field:
        node = node[step]
    assert "_errors" in node


def _option(**fields: Any) -> dict[str, Any]:
    return {"name": "count", "description": "How many", "type": 4, **fields}


def _command(*options: dict[str, Any]) -> list[dict[str, Any]]:
    return [{"name": "imagine", "description": "Create images", "type": 1, "options": options}]


SHAPES_REFUSED: dict[str, tuple[list[dict[str, Any]], list[str]]] = {
    "26 choices": (
        _command(_option(choices=[{"name": str(n), "value": n} for n in range(26)])),
        ["0", "options", "0", "choices"],
    ),
    "a text choice on an integer option": (
        _command(_option(choices=[{"name": "one", "value": "1"}])),
        ["0", "options", "0", "choices", "0", "value"],
    ),
    "a fractional choice on an integer option": (
        _command(_option(choices=[{"name": "half", "value": 0.5}])),
        ["0", "options", "0", "choices", "0", "value"],
    ),
    "a number choice on a text option": (
        _command(_option(type=3, choices=[{"name": "4K", "value": 4}])),
        ["0", "options", "0", "choices", "0", "value"],
    ),
    "choices with autocomplete": (
        _command(_option(autocomplete=True, choices=[{"name": "one", "value": 1}])),
        ["0", "options", "0", "autocomplete"],
    ),
    "a minimum on a text option": (
        _command(_option(type=3, min_value=0)),
        ["0", "options", "0", "min_value"],
    ),
    "a fractional bound on an integer option": (
        _command(_option(max_value=4.5)),
        ["0", "options", "0", "max_value"],
    ),
    "bounds the wrong way round": (
        _command(_option(type=10, min_value=1, max_value=0)),
        ["0", "options", "0", "max_value"],
    ),
    "a length on a number option": (
        _command(_option(type=10, max_length=10)),
        ["0", "options", "0", "max_length"],
    ),
    "a text longer than Discord keeps": (
        _command(_option(type=3, max_length=6001)),
        ["0", "options", "0", "max_length"],
    ),
    "lengths the wrong way round": (
        _command(_option(type=3, min_length=5, max_length=4)),
        ["0", "options", "0", "max_length"],
    ),
    "a required option after an optional one": (
        _command(_option(), _option(name="prompt", type=3, required=True)),
        ["0", "options", "1", "required"],
    ),
}


@pytest.mark.parametrize("case", list(SHAPES_REFUSED))
def test_an_option_of_a_shape_discord_refuses_is_refused_where_it_is(case: str):
    bodies, field = SHAPES_REFUSED[case]
    error = command_errors(bodies)
    assert error is not None, case
    node = error["errors"]
    for step in field:
        node = node[step]
    assert "_errors" in node


def test_options_of_every_shape_discord_takes_pass():
    bodies = _command(
        _option(name="prompt", type=3, required=True, min_length=1, max_length=1500),
        _option(min_value=1, max_value=4),
        _option(name="similarity", type=10, min_value=0, max_value=1.0),
        _option(name="aspect", type=3, choices=[{"name": "1:1 square", "value": "1:1"}] * 25),
        _option(name="scale", type=10, choices=[{"name": "half", "value": 0.5}]),
    )
    assert command_errors(bodies) is None
