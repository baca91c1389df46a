"""What a server's admins decide with /settings: where the bot works, who may use it, the limits.

Stored per server as JSON, so a new setting needs no schema change; unknown or malformed fields
in a stored row fall back to their defaults rather than breaking the server.
"""

from __future__ import annotations

import enum
import json
import logging
import re
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field, fields, replace
from typing import Any, Final, Self

from bot.i18n import Listing, Number, Text, command, lazy, nlazy
from bot.lookalikes import comparable
from bot.shown import shown

log = logging.getLogger(__name__)

ASPECTS: Final = ("1:1", "4:3", "3:2", "16:9", "3:4", "2:3", "9:16")
ACTIVE_RANGE: Final = (1, 20)
DAILY_RANGE: Final = (1, 1000)
# Credits the whole server may spend in 24 hours (0 clears it); the operator's cap may be lower.
CREDITS_RANGE: Final = (0, 10_000_000)
BANNED_WORDS_MAX: Final = 200
BANNED_WORD_LENGTH: Final = 50
# How close V1-V4 of a v4 batch stay to their image (AKOOL's ``similar``: 0 more creative, 1
# closer to the image); AKOOL's own default.
SIMILARITY_RANGE: Final = (0.0, 1.0)
DEFAULT_SIMILARITY: Final = 0.5


class InvalidSetting(ValueError):
    """A value an admin tried to set, refused with a sentence saying why (``text``, written in
    the admin's language where it is shown)."""

    def __init__(self, text: Text) -> None:
        super().__init__(str(text))
        self.text = text


class Kind(enum.Enum):
    """What a :class:`Scope` holds."""

    CHANNEL = "channel"
    ROLE = "role"


@dataclass(frozen=True, slots=True)
class ServerSettings:
    """One server's settings; the defaults are what a server that never ran /settings gets."""

    # Where the bot works and who may use it, each in one of three modes (see :class:`Scope`):
    # both sets empty is every channel / everyone; ``channels`` (``roles``) non-empty is only
    # those; ``channels_excluded`` (``roles_excluded``) non-empty is all but those. A row stored
    # before the exclusions existed has none, so it keeps its meaning.
    channels: frozenset[int] = field(default_factory=frozenset)
    roles: frozenset[int] = field(default_factory=frozenset)
    channels_excluded: frozenset[int] = field(default_factory=frozenset)
    roles_excluded: frozenset[int] = field(default_factory=frozenset)
    max_active_jobs: int = 3
    max_daily_jobs: int = 25
    banned_words: tuple[str, ...] = ()
    # False: only the job's requester may press its buttons.
    buttons_for_everyone: bool = True
    default_aspect: str = "1:1"
    # False: only members who may manage the server look up jobs the bot never stored (they
    # belong to the operator's AKOOL account, not to this server).
    lookups_for_everyone: bool = False
    # Credits the whole server may spend in a rolling 24 hours, set by its admins; the
    # operator's SERVER_CREDITS_PER_DAY still applies when lower. ``None``: none of its own.
    max_daily_credits: int | None = None
    # The language of the bot's posts in the server's channels (``de``, ``pt_BR``); empty: the
    # one Discord gives (see bot.languages).
    language: str = ""
    # AKOOL's ``similar`` for a variation (V1-V4) of an image of a v4 batch.
    variation_similarity: float = DEFAULT_SIMILARITY

    @property
    def channel_scope(self) -> Scope:
        return Scope(self.channels, self.channels_excluded)

    @property
    def role_scope(self) -> Scope:
        return Scope(self.roles, self.roles_excluded)

    def with_channels(self, scope: Scope) -> Self:
        return replace(self, channels=scope.only, channels_excluded=scope.excluded)

    def with_roles(self, scope: Scope) -> Self:
        return replace(self, roles=scope.only, roles_excluded=scope.excluded)

    def with_limits(self, *, active: int | None, daily: int | None) -> Self:
        if active is not None and not _within(active, ACTIVE_RANGE):
            raise InvalidSetting(
                lazy(
                    "The active-job limit must be from {low} to {high}; {value} is not.",
                    low=ACTIVE_RANGE[0],
                    high=ACTIVE_RANGE[1],
                    value=active,
                )
            )
        if daily is not None and not _within(daily, DAILY_RANGE):
            raise InvalidSetting(
                lazy(
                    "The daily limit must be from {low} to {high}; {value} is not.",
                    low=DAILY_RANGE[0],
                    high=DAILY_RANGE[1],
                    value=daily,
                )
            )
        return replace(
            self,
            max_active_jobs=self.max_active_jobs if active is None else active,
            max_daily_jobs=self.max_daily_jobs if daily is None else daily,
        )

    def with_credit_limit(self, credits: int, *, ceiling: int | None) -> Self:
        """The server's own daily credit limit (0: none of its own), never above ``ceiling``,
        the operator's cap for every server."""
        if not _within(credits, CREDITS_RANGE):
            raise InvalidSetting(
                lazy(
                    "The daily credit limit must be from {low} to {high}; {value} is not.",
                    low=Number(CREDITS_RANGE[0]),
                    high=Number(CREDITS_RANGE[1]),
                    value=Number(credits),
                )
            )
        if ceiling is not None and credits > ceiling:
            raise InvalidSetting(
                nlazy(
                    "The bot's operator caps every server at {ceiling} credit a day, so this "
                    "server's limit can be at most {ceiling}; {credits} is above it.",
                    "The bot's operator caps every server at {ceiling} credits a day, so this "
                    "server's limit can be at most {ceiling}; {credits} is above it.",
                    ceiling,
                    ceiling=Number(ceiling),
                    credits=Number(credits),
                )
            )
        return replace(self, max_daily_credits=credits or None)

    def daily_credit_cap(self, ceiling: int | None) -> int | None:
        """The cap this server's spending has: its own limit or the operator's, the lower."""
        caps = [c for c in (self.max_daily_credits, ceiling) if c is not None]
        return min(caps) if caps else None

    def with_variation_similarity(self, similarity: float) -> Self:
        low, high = SIMILARITY_RANGE
        if not low <= similarity <= high:
            raise InvalidSetting(
                lazy(
                    "The similarity of variations must be from {low} to {high}; {value} is not.",
                    low=Number(low),
                    high=Number(high),
                    value=Number(similarity),
                )
            )
        return replace(self, variation_similarity=float(similarity))

    def with_aspect(self, aspect: str) -> Self:
        if aspect not in ASPECTS:
            raise InvalidSetting(
                lazy(
                    "{aspect} is not an aspect ratio AKOOL offers ({aspects}).",
                    aspect=aspect,
                    aspects=Listing(ASPECTS),
                )
            )
        return replace(self, default_aspect=aspect)

    def with_language(self, language: str, shipped: Iterable[str]) -> Self:
        """``language`` (one of ``shipped``), or empty to follow Discord's."""
        if language and language not in shipped:
            raise InvalidSetting(
                lazy("The bot does not speak {language}.", language=shown(language, 50))
            )
        return replace(self, language=language)

    def with_banned_word(self, word: str) -> Self:
        cleaned = normalise_word(word)
        if not any(c.isalnum() for c in comparable(cleaned)):
            raise InvalidSetting(lazy("A banned word needs at least one letter or digit."))
        if len(cleaned) > BANNED_WORD_LENGTH:
            raise InvalidSetting(
                lazy("A banned word can be at most {n} characters.", n=BANNED_WORD_LENGTH)
            )
        if self._banned(cleaned) is not None:
            raise InvalidSetting(lazy("“{word}” is already banned.", word=shown(cleaned)))
        if len(self.banned_words) >= BANNED_WORDS_MAX:
            raise InvalidSetting(
                lazy("The list already holds the most words it can ({n}).", n=BANNED_WORDS_MAX)
            )
        return replace(self, banned_words=(*self.banned_words, cleaned))

    def without_banned_word(self, word: str) -> Self:
        cleaned = normalise_word(word)
        stored = self._banned(cleaned)
        if stored is None:
            raise InvalidSetting(lazy("“{word}” is not on the banned list.", word=shown(cleaned)))
        return replace(self, banned_words=tuple(w for w in self.banned_words if w != stored))

    def banned_word_in(self, prompt: str) -> str | None:
        """The first banned word the prompt contains as a whole word, if any.

        Both are compared in :func:`comparable` form, so case, styled or full-width letters,
        accents, invisible characters and look-alike letters from other scripts do not hide one.
        """
        text = comparable(prompt)
        for word in self.banned_words:
            folded = comparable(word)
            if folded and re.search(rf"(?<!\w){re.escape(folded)}(?!\w)", text):
                return word
        return None

    def _banned(self, word: str) -> str | None:
        """The stored banned word that ``word`` is a spelling of, if any."""
        wanted = comparable(word)
        return next((w for w in self.banned_words if comparable(w) == wanted), None)

    def to_json(self) -> str:
        data = asdict(self)
        data["channels"] = sorted(self.channels)
        data["roles"] = sorted(self.roles)
        data["channels_excluded"] = sorted(self.channels_excluded)
        data["roles_excluded"] = sorted(self.roles_excluded)
        data["banned_words"] = list(self.banned_words)
        return json.dumps(data, sort_keys=True)

    @classmethod
    def from_json(cls, raw: str) -> ServerSettings:
        try:
            data = json.loads(raw)
        except ValueError:
            log.warning("Stored server settings are not JSON; using the defaults")
            return cls()
        if not isinstance(data, dict):
            return cls()
        defaults = cls()
        values: dict[str, Any] = {}
        for f in fields(cls):
            if f.name in data:
                values[f.name] = _coerce(f.name, data[f.name], getattr(defaults, f.name))
        return cls(**values)


class Mode(enum.Enum):
    ALL = "all"
    ONLY = "only"
    EXCEPT = "all except"


@dataclass(frozen=True, slots=True)
class Scope:
    """Which channels (or roles) the bot serves: all of them, only some, or all but some.

    At most one of the two sets is non-empty after any change made here; should a stored row
    hold both, :func:`bot.policy.check_place` applies both (listed, and not excluded).
    """

    only: frozenset[int] = frozenset()
    excluded: frozenset[int] = frozenset()

    @property
    def mode(self) -> Mode:
        if self.only:
            return Mode.ONLY
        return Mode.EXCEPT if self.excluded else Mode.ALL

    def allowing(self, item: int, mention: str, *, kind: Kind) -> Scope:
        """``item`` allowed: "all" becomes "only it"; "only" gains it; "all except" loses it."""
        match self.mode:
            case Mode.ALL:
                return Scope(only=frozenset({item}))
            case Mode.ONLY:
                if item in self.only:
                    raise InvalidSetting(lazy("{mention} is already allowed.", mention=mention))
                return replace(self, only=self.only | {item})
            case Mode.EXCEPT:
                if item not in self.excluded:
                    raise InvalidSetting(_ALREADY_ALLOWED[kind](mention))
                return replace(self, excluded=self.excluded - {item})

    def disallowing(self, item: int, mention: str, *, kind: Kind) -> Scope:
        """``item`` disallowed: "all" becomes "all except it"; "all except" gains it; "only"
        loses it, but never its last one, since an empty list would mean all, the opposite."""
        match self.mode:
            case Mode.ALL:
                return Scope(excluded=frozenset({item}))
            case Mode.EXCEPT:
                if item in self.excluded:
                    raise InvalidSetting(lazy("{mention} is already disallowed.", mention=mention))
                return replace(self, excluded=self.excluded | {item})
            case Mode.ONLY:
                if item not in self.only:
                    raise InvalidSetting(
                        lazy(
                            "{mention} is not on the allowed list, so it is already disallowed.",
                            mention=mention,
                        )
                    )
                if self.only == {item}:
                    raise InvalidSetting(_LAST_ALLOWED[kind](mention))
                return replace(self, only=self.only - {item})


# Each kind's sentences whole, so each language words them its own way.
def _already_allowed_channel(mention: str) -> Text:
    return lazy(
        "{mention} is already allowed: only the channels you disallowed are not. To allow only "
        "certain channels, use {command} and then allow them.",
        mention=mention,
        command=command("settings channel all"),
    )


def _already_allowed_role(mention: str) -> Text:
    return lazy(
        "{mention} is already allowed: only the roles you disallowed are not. To allow only "
        "certain roles, use {command} and then allow them.",
        mention=mention,
        command=command("settings role everyone"),
    )


def _last_channel(mention: str) -> Text:
    return lazy(
        "{mention} is the only channel allowed, and removing it would allow every channel. "
        "Allow another channel first, or use {command}.",
        mention=mention,
        command=command("settings channel all"),
    )


def _last_role(mention: str) -> Text:
    return lazy(
        "{mention} is the only role allowed, and removing it would allow every member. "
        "Allow another role first, or use {command}.",
        mention=mention,
        command=command("settings role everyone"),
    )


_ALREADY_ALLOWED: Final = {Kind.CHANNEL: _already_allowed_channel, Kind.ROLE: _already_allowed_role}
_LAST_ALLOWED: Final = {Kind.CHANNEL: _last_channel, Kind.ROLE: _last_role}


def normalise_word(word: str) -> str:
    return " ".join(word.casefold().split())


def _within(value: int, bounds: tuple[int, int]) -> bool:
    low, high = bounds
    return low <= value <= high


def _coerce(name: str, value: object, default: Any) -> Any:
    """A stored value of the right type, or the default (and a warning) if it is not."""
    if isinstance(default, frozenset):
        if isinstance(value, list) and all(isinstance(v, int) for v in value):
            return frozenset(value)
    elif isinstance(default, tuple):
        if isinstance(value, list) and all(isinstance(v, str) for v in value):
            return tuple(value)
    elif default is None:
        # An optional count (the daily credit limit): a positive whole number, or none.
        if value is None or (isinstance(value, int) and not isinstance(value, bool) and value > 0):
            return value
    elif isinstance(default, float):
        # A fraction from 0 to 1 (the similarity of variations); JSON may write 1.0 as 1.
        low, high = SIMILARITY_RANGE
        if isinstance(value, int | float) and not isinstance(value, bool) and low <= value <= high:
            return float(value)
    elif isinstance(default, bool):
        if isinstance(value, bool):
            return value
    elif isinstance(default, int):
        if isinstance(value, int) and not isinstance(value, bool):
            return value
    elif isinstance(value, type(default)):
        return value
    log.warning("Stored server setting %s has an unusable value; using the default", name)
    return default
