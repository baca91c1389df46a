"""Database rows to the store's records, for every backend (their rows index by column name)."""

from __future__ import annotations

import json
from typing import Any, Protocol

from bot.secret import Secret
from bot.store.models import (
    ButtonPress,
    CreateIntent,
    CreateOptions,
    CreditUsage,
    Delivery,
    InteractionReply,
    Job,
    JobKind,
    JobStatus,
    ReplyBy,
    Spending,
)


class Row(Protocol):
    """A result row of either driver: aiosqlite's ``Row`` or asyncpg's ``Record``."""

    def __getitem__(self, key: str, /) -> Any: ...


def json_list(values: tuple[str, ...]) -> str:
    return json.dumps(list(values))


def _tuple(raw: str) -> tuple[str, ...]:
    try:
        value = json.loads(raw)
    except ValueError:
        return ()
    return tuple(str(v) for v in value) if isinstance(value, list) else ()


def escape_like(text: str) -> str:
    """``text`` as a literal LIKE prefix, with ``\\`` as the escape character."""
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def job(row: Row) -> Job:
    return Job(
        id=row["id"],
        akool_id=row["akool_id"],
        kind=JobKind(row["kind"]),
        requester_id=row["requester_id"],
        channel_id=row["channel_id"],
        guild_id=row["guild_id"],
        prompt=row["prompt"],
        scale=row["scale"],
        source_image=row["source_image"],
        parent_akool_id=row["parent_akool_id"],
        button=row["button"],
        status=JobStatus(row["status"]),
        image_url=row["image_url"],
        upscaled_urls=_tuple(row["upscaled_urls"]),
        buttons=_tuple(row["buttons"]),
        used_buttons=_tuple(row["used_buttons"]),
        credits=row["credits"],
        error=row["error"],
        delivery=Delivery(row["delivery"]),
        status_message_id=row["status_message_id"],
        result_message_id=row["result_message_id"],
        created_at=row["created_at"],
        updated_at=row["updated_at"],
        akool_created_at=row["akool_created_at"],
        finished_at=row["finished_at"],
        due_at=row["due_at"],
        attempts=row["attempts"],
        last_error=row["last_error"],
        announced=bool(row["announced"]),
        api=row["api"],
        batch_akool_id=row["batch_akool_id"],
        batch_index=row["batch_index"],
        options=CreateOptions.from_json(row["create_options"]),
    )


def options_json(options: CreateOptions | None) -> str | None:
    return None if options is None else options.to_json()


def press(row: Row) -> ButtonPress:
    return ButtonPress(
        parent_akool_id=row["parent_akool_id"],
        button=row["button"],
        presser_id=row["presser_id"],
        pressed_at=row["pressed_at"],
        child_akool_id=row["child_akool_id"],
    )


def intent(row: Row) -> CreateIntent:
    """An intent row, with the ``akool_id`` of its job when the query joined one in."""
    token = row["interaction_token"]
    reply = None
    if token and row["application_id"] is not None and row["reply_by"] is not None:
        reply = InteractionReply(row["application_id"], Secret(token), ReplyBy(row["reply_by"]))
    claim = None
    if row["button"] is not None and row["parent_akool_id"] is not None:
        claim = ButtonPress(
            parent_akool_id=row["parent_akool_id"],
            button=row["button"],
            presser_id=row["requester_id"],
            pressed_at=row["pressed_at"],
            child_akool_id=None,
        )
    return CreateIntent(
        id=row["id"],
        requester_id=row["requester_id"],
        guild_id=row["guild_id"],
        channel_id=row["channel_id"],
        prompt=row["prompt"],
        started_at=row["started_at"],
        reply=reply,
        akool_called_at=row["akool_called_at"],
        akool_id=row["akool_id"],
        claim=claim,
    )


def claim_values(claim: ButtonPress | None) -> tuple[str | None, str | None, float | None]:
    """``(parent_akool_id, button, pressed_at)`` as the intent columns hold them."""
    if claim is None:
        return None, None, None
    return claim.parent_akool_id, claim.button, claim.pressed_at


def reply_values(reply: InteractionReply | None) -> tuple[int | None, str | None, str | None]:
    """``(application_id, interaction_token, reply_by)`` as the intent columns hold them."""
    if reply is None:
        return None, None, None
    return reply.application_id, reply.token.reveal(), reply.by.value


def credit_usage(row: Row, guild_id: int | None) -> CreditUsage:
    """A credit-usage row (``account_spent``, ``account_reserved``, ``server_spent``,
    ``server_reserved``, ``cost``); no server figures outside a server."""
    server = (
        None
        if guild_id is None
        else Spending(spent=int(row["server_spent"]), reserved=int(row["server_reserved"]))
    )
    return CreditUsage(
        account=Spending(spent=int(row["account_spent"]), reserved=int(row["account_reserved"])),
        server=server,
        cost=int(row["cost"]),
    )


def cost_kind(button: str) -> str:
    """SQL for the v3 CostKind of a job or intent, from the button that made it (NULL or 🔄: a
    grid). A job's kind is :func:`job_cost_kind`, a create's :func:`create_cost_kind`."""
    return (
        f"CASE substr({button}, 1, 1) WHEN 'U' THEN 'upscale' WHEN 'V' THEN 'variation' "
        "ELSE 'grid' END"
    )


def job_cost_kind(alias: str) -> str:
    """SQL for the CostKind of the job row ``alias`` (a table alias, or "" for the bare table): a
    v4 image is an image whatever made it (/imagine, 🔄 or a V of a batch), AKOOL charging each
    image of a batch; a v3 job is of its button's kind.

    On the bare table it is also the expression of the index jobs_cost_sample (migration
    image_costs), which the median's sample is read by: change both or neither."""
    column = f"{alias}." if alias else ""
    return f"CASE WHEN {column}api = 'v4' THEN 'image' ELSE {cost_kind(column + 'button')} END"


def create_cost_kind(button: str, images: str) -> str:
    """SQL for the CostKind of a create (an intent, or the one asked about): ``images`` not NULL
    is a v4 order of that many images, else a v3 job of ``button``'s kind."""
    return f"CASE WHEN {images} IS NULL THEN {cost_kind(button)} ELSE 'image' END"


def create_cost(costs: str, button: str, images: str) -> str:
    """SQL for the expected cost of a create from the ``costs`` table (kind ``k``, ``cost``):
    n images cost n times an image's cost."""
    kind = create_cost_kind(button, images)
    return f"((SELECT cost FROM {costs} WHERE k = {kind}) * COALESCE({images}, 1))"  # noqa: S608
