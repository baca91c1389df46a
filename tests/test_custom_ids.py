"""custom_id parsing: table-driven, plus a property test that every id we make parses back."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bot.components import GridButton, ShowButton
from bot.custom_ids import CUSTOM_ID_MAX, GRID_BUTTONS, ButtonRef, normalise_job_id

JOB = "662a10df4197b3af58532e89"


@pytest.mark.parametrize(
    ("custom_id", "expected"),
    [
        (f"akool:v1:{JOB}:U2", ButtonRef(JOB, "U2")),
        (f"akool:v1:{JOB}:V4", ButtonRef(JOB, "V4")),
        (f"akool:v1:{JOB}:show", ButtonRef(JOB, "show")),
        (f"akool:v1:{JOB}:U5", None),
        (f"akool:v1:{JOB}:u2", None),
        (f"akool:v2:{JOB}:U2", None),
        (f"akool:v1:{JOB.upper()}:U2", None),
        (f"akool:v1:{JOB[:-1]}:U2", None),
        (f"akool:v1:{JOB}0:U2", None),
        (f"akool:v1:{JOB}:U2:extra", None),
        (f"akool:v1:{JOB}:U2\n", None),
        ("akool:v1:' OR 1=1 --:U2", None),
        ("", None),
        ("x" * 500, None),
    ],
)
def test_parse(custom_id: str, expected: ButtonRef | None):
    assert ButtonRef.parse(custom_id) == expected


@given(
    st.from_regex(r"[0-9a-f]{24}", fullmatch=True),
    st.sampled_from([*GRID_BUTTONS, "show"]),
)
def test_every_made_id_parses_back_and_fits(job_id: str, action: str):
    ref = ButtonRef(job_id, action)

    assert ButtonRef.parse(ref.custom_id) == ref
    assert len(ref.custom_id) <= CUSTOM_ID_MAX


@given(st.text(max_size=200))
def test_parse_never_raises(text: str):
    ref = ButtonRef.parse(text)
    assert ref is None or ref.custom_id == text


def test_dynamic_item_templates_match_what_we_make():
    for button in GRID_BUTTONS:
        ref = ButtonRef(JOB, button)
        assert GridButton.__discord_ui_compiled_template__.fullmatch(ref.custom_id)
        assert not ShowButton.__discord_ui_compiled_template__.fullmatch(ref.custom_id)
    show = ButtonRef(JOB, "show")
    assert ShowButton.__discord_ui_compiled_template__.fullmatch(show.custom_id)


@pytest.mark.parametrize(("job_id", "action"), [("nothex", "U1"), (JOB, "X1"), (JOB, "")])
def test_refs_refuse_bad_parts(job_id: str, action: str):
    with pytest.raises(ValueError, match="not"):
        ButtonRef(job_id, action)


@pytest.mark.parametrize(
    ("typed", "expected"),
    [
        (JOB, JOB),
        (f"  {JOB.upper()} ", JOB),
        (JOB[:-1], None),
        (JOB + "a", None),
        ("g" * 24, None),
        ("'; DROP TABLE jobs; --", None),
        ("", None),
    ],
)
def test_normalise_job_id(typed: str, expected: str | None):
    assert normalise_job_id(typed) == expected
