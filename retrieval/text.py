"""Text every store can hold: the one cleaning applied wherever outside text comes in.

PostgreSQL rejects NUL; a lone surrogate ("\\ud800", possible in a Python string, never in
UTF-8) cannot be encoded, so SQL drivers, Arrow and the Anthropic SDK fail on it; other
control characters are invisible noise. ``bot`` imports this too (``retrieval`` imports
nothing of ``bot``).
"""

from __future__ import annotations

import re

_SURROGATE = re.compile("[\ud800-\udfff]")
_LINE_BREAK = re.compile("\r\n?")
# Control characters Python counts as whitespace (vertical tab, form feed, file/group/record
# separators, NEL) separate words: a space keeps them apart. Tab and newline stay as they are.
_SPACING_CONTROL = re.compile("[\x0b\x0c\x1c-\x1f\x85]")
_OTHER_CONTROL = re.compile("[\x00-\x08\x0e-\x1b\x7f-\x84\x86-\x9f]")


def storable_text(text: str) -> str:
    """``text`` without NUL, lone surrogates and control characters other than tab and
    newline; line breaks become ``\\n``, a surrogate pair its character."""
    if _SURROGATE.search(text):
        # Through UTF-16: a high+low pair becomes the character it encodes, a lone one drops.
        text = text.encode("utf-16-le", "surrogatepass").decode("utf-16-le", "ignore")
    text = _LINE_BREAK.sub("\n", text)
    return _OTHER_CONTROL.sub("", _SPACING_CONTROL.sub(" ", text))
