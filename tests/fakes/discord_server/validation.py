"""Server-side checks Discord applies to message bodies.

Only the limits a bot realistically trips over are enforced, with Discord's error shapes
(``50006`` for an empty message, ``50035`` "Invalid Form Body" with a nested ``errors`` tree that
discord.py flattens into ``HTTPException.text``): content 2,000 characters; embed title 256,
description 4,096, field name 256 and value 1,024, footer 2,048, author 256, all of them together
6,000, and any URL in an embed 2,048; a link button's URL 512.
"""

from __future__ import annotations

from typing import Any

MESSAGE_FLAG_COMPONENTS_V2 = 1 << 15

_EMBED_TEXT_LIMITS = {"title": 256, "description": 4096}
_EMBED_TOTAL_LIMIT = 6000
_EMBED_URL_LIMIT = 2048
_LINK_BUTTON_URL_LIMIT = 512
_LINK_BUTTON_STYLE = 5
# Where an embed carries a URL, and the schemes Discord takes there.
_EMBED_URLS: dict[tuple[str, ...], tuple[str, ...]] = {
    ("url",): ("http", "https"),
    ("author", "url"): ("http", "https"),
    ("author", "icon_url"): ("http", "https", "attachment"),
    ("footer", "icon_url"): ("http", "https", "attachment"),
    ("image", "url"): ("http", "https", "attachment"),
    ("thumbnail", "url"): ("http", "https", "attachment"),
}


def form_error(path: list[str | int], code: str, message: str) -> dict[str, Any]:
    """A ``50035 Invalid Form Body`` error whose ``errors`` tree points at ``path``."""
    leaf: dict[str, Any] = {"_errors": [{"code": code, "message": message}]}
    for key in reversed(path):
        leaf = {str(key): leaf}
    return {"code": 50035, "message": "Invalid Form Body", "errors": leaf}


def _url_errors(embed: dict[str, Any], i: int) -> dict[str, Any] | None:
    for path, schemes in _EMBED_URLS.items():
        value: Any = embed
        for key in path:
            value = value.get(key) if isinstance(value, dict) else None
        if value is None:
            continue
        url = str(value)
        where: list[str | int] = ["embeds", i, *path]
        if len(url) > _EMBED_URL_LIMIT:
            return form_error(
                where, "BASE_TYPE_MAX_LENGTH", f"Must be {_EMBED_URL_LIMIT} or fewer in length."
            )
        scheme = url.partition(":")[0].lower()
        if scheme not in schemes:
            return form_error(
                where,
                "URL_TYPE_INVALID_SCHEME",
                f'Scheme "{scheme}" is not supported. Scheme must be one of {schemes}.',
            )
    return None


def _embed_errors(embeds: list[dict[str, Any]]) -> dict[str, Any] | None:
    total = 0
    for i, embed in enumerate(embeds):
        url_error = _url_errors(embed, i)
        if url_error:
            return url_error
        for key, limit in _EMBED_TEXT_LIMITS.items():
            text = embed.get(key) or ""
            total += len(text)
            if len(text) > limit:
                return form_error(
                    ["embeds", i, key],
                    "BASE_TYPE_MAX_LENGTH",
                    f"Must be {limit} or fewer in length.",
                )
        fields = embed.get("fields") or []
        if len(fields) > 25:
            return form_error(
                ["embeds", i, "fields"], "BASE_TYPE_MAX_LENGTH", "Must be 25 or fewer in length."
            )
        for j, fld in enumerate(fields):
            name, value = str(fld.get("name", "")), str(fld.get("value", ""))
            total += len(name) + len(value)
            if not name or not value:
                return form_error(
                    ["embeds", i, "fields", j], "BASE_TYPE_REQUIRED", "This field is required"
                )
            if len(name) > 256 or len(value) > 1024:
                return form_error(
                    ["embeds", i, "fields", j],
                    "BASE_TYPE_MAX_LENGTH",
                    "Field name/value too long (256/1024).",
                )
        footer = (embed.get("footer") or {}).get("text") or ""
        author = (embed.get("author") or {}).get("name") or ""
        total += len(footer) + len(author)
        if len(footer) > 2048 or len(author) > 256:
            return form_error(["embeds", i], "BASE_TYPE_MAX_LENGTH", "Footer/author text too long.")
    if total > _EMBED_TOTAL_LIMIT:
        return form_error(
            ["embeds"], "MAX_EMBED_SIZE_EXCEEDED", "Embed size exceeds maximum size of 6000"
        )
    return None


def _walk_components(components: list[dict[str, Any]]) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for comp in components:
        out.append(comp)
        out.extend(_walk_components(comp.get("components") or []))
        accessory = comp.get("accessory")
        if isinstance(accessory, dict):
            out.append(accessory)
    return out


def _component_errors(components: list[dict[str, Any]], flags: int) -> dict[str, Any] | None:
    if not flags & MESSAGE_FLAG_COMPONENTS_V2:
        if len(components) > 5:
            return form_error(
                ["components"], "BASE_TYPE_MAX_LENGTH", "Must be 5 or fewer in length."
            )
        for i, row in enumerate(components):
            if row.get("type") != 1:
                return form_error(
                    ["components", i], "UNION_TYPE_CHOICES", "Top-level components must be rows."
                )
            children = row.get("components") or []
            if not 1 <= len(children) <= 5:
                return form_error(
                    ["components", i, "components"],
                    "BASE_TYPE_BAD_LENGTH",
                    "Must be between 1 and 5 in length.",
                )
    seen: set[str] = set()
    for comp in _walk_components(components):
        custom_id = comp.get("custom_id")
        if comp.get("type") == 2 and comp.get("style") == _LINK_BUTTON_STYLE:
            url = str(comp.get("url") or "")
            if not url:
                return form_error(["components"], "BASE_TYPE_REQUIRED", "Link buttons need a url.")
            if len(url) > _LINK_BUTTON_URL_LIMIT:
                return form_error(
                    ["components"],
                    "BASE_TYPE_MAX_LENGTH",
                    f"url must be {_LINK_BUTTON_URL_LIMIT} or fewer in length.",
                )
        if comp.get("type") == 2 and comp.get("style") != 5 and comp.get("style") != 6:
            if not custom_id:
                return form_error(["components"], "BASE_TYPE_REQUIRED", "Buttons need a custom_id.")
            if len(str(comp.get("label") or "")) > 80:
                return form_error(
                    ["components"], "BASE_TYPE_MAX_LENGTH", "Button label must be 80 or fewer."
                )
        if custom_id is None:
            continue
        if len(custom_id) > 100:
            return form_error(
                ["components"], "BASE_TYPE_MAX_LENGTH", "custom_id must be 100 or fewer in length."
            )
        if custom_id in seen:
            return form_error(
                ["components"],
                "COMPONENT_CUSTOM_ID_DUPLICATED",
                "Component custom id cannot be duplicated",
            )
        seen.add(custom_id)
    return None


def validate_message(
    body: dict[str, Any],
    *,
    file_count: int,
    existing: dict[str, Any] | None = None,
) -> dict[str, Any] | None:
    """Return Discord's error body for an invalid create/edit, or None when it is acceptable.

    ``existing`` is the current message payload for edits: an edit only has to leave *some*
    content behind, not carry it itself.
    """
    content = body.get("content")
    if content is not None and len(str(content)) > 2000:
        return form_error(["content"], "BASE_TYPE_MAX_LENGTH", "Must be 2000 or fewer in length.")
    embeds = body.get("embeds")
    if embeds:
        if len(embeds) > 10:
            return form_error(["embeds"], "BASE_TYPE_MAX_LENGTH", "Must be 10 or fewer in length.")
        error = _embed_errors(embeds)
        if error:
            return error
    flags = int(body.get("flags") or (existing or {}).get("flags") or 0)
    components = body.get("components")
    if components:
        error = _component_errors(components, flags)
        if error:
            return error

    def present(key: str) -> bool:
        if key in body:
            return bool(body[key])
        return bool((existing or {}).get(key))

    has_body = (
        present("content")
        or present("embeds")
        or present("components")
        or present("attachments")
        or present("sticker_ids")
        or present("poll")
        or file_count > 0
    )
    if not has_body:
        return {"code": 50006, "message": "Cannot send an empty message"}
    return None
