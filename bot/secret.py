"""A string wrapper that keeps secrets out of ``repr``, ``str``, logs and tracebacks."""

from __future__ import annotations

from typing import Final, final

_MASK: Final = "**********"


@final
class Secret:
    """A secret value (token, API key) that only :meth:`reveal` gives back.

    ``repr`` and ``str`` show a mask, so a settings object can be logged or printed in an error
    without leaking the value.
    """

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        self._value = value

    def reveal(self) -> str:
        """Return the secret itself: call this only where it is sent over the wire."""
        return self._value

    def __repr__(self) -> str:
        return f"Secret('{_MASK}')"

    def __str__(self) -> str:
        return _MASK

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Secret) and other._value == self._value

    def __hash__(self) -> int:
        return hash(self._value)

    def __bool__(self) -> bool:
        return bool(self._value)

    def __reduce__(self) -> tuple[object, ...]:
        # Pickling a secret would write it in clear wherever the pickle goes.
        raise TypeError("Secret values cannot be pickled")
