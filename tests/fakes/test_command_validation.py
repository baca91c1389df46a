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
