"""Activation codes as people type them: ``fam7y 23hxq`` is ``FAM7Y23HXQ``, shown ``FAM7Y-23HXQ``. No Flet.

The server draws the 10 characters from an alphabet without look-alikes (no 0/O, 1/I/L) and ignores case,
spaces and dashes; the app does the same before sending, and names the characters that cannot be in a code.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["ALPHABET", "CODE_LENGTH", "TypedCode", "display_code", "read_code"]

ALPHABET = "23456789ABCDEFGHJKMNPQRSTUVWXYZ"
CODE_LENGTH = 10
_IGNORED = " -\t\u2010\u2011\u2012\u2013\u2014"


@dataclass(frozen=True)
class TypedCode:
    #: Upper case, without spaces or dashes.
    code: str
    #: Characters that are never in a code (in the order typed, once each), e.g. ``("0", "O")``.
    foreign: tuple[str, ...]

    @property
    def complete(self) -> bool:
        return not self.foreign and len(self.code) == CODE_LENGTH


def read_code(typed: str) -> TypedCode:
    code = "".join(ch for ch in typed.upper() if ch not in _IGNORED)
    foreign = tuple(dict.fromkeys(ch for ch in code if ch not in ALPHABET))
    return TypedCode(code, foreign)


def display_code(code: str) -> str:
    """``FAM7Y23HXQ`` → ``FAM7Y-23HXQ`` (any other length as it is)."""
    plain = read_code(code).code
    return f"{plain[:5]}-{plain[5:]}" if len(plain) == CODE_LENGTH else plain
