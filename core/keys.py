"""Reversible encoding of free text into Table Storage keys.

Keys may not hold `/ \\ # ?` or control characters, and `%`, `'`, `.` and `+`
misbehave in the URLs of point operations on some stacks. Each such character
becomes `!` plus its code point in hex, so keys stay readable and sort like
the text. Keys that would exceed the 1 KiB limit are replaced by a digest;
the original text is always stored in the entity's properties as well.
"""

import hashlib

ESCAPE = "!"
# Joins the parts of a compound key; escaped inside parts, so it splits safely.
SEPARATOR = "|"
MAX_KEY_BYTES = 1024
_RISKY = set("/\\#?%'.+!|") | {chr(c) for c in range(0x20)} | {chr(c) for c in range(0x7F, 0xA0)}


def encode_part(text: str) -> str:
    """Escape `text` so it can stand in a key; `decode_part` reverses it."""
    return "".join(_escape(char) if char in _RISKY else char for char in text)


def _escape(char: str) -> str:
    return f"{ESCAPE}{ord(char):02x}"


def decode_part(encoded: str) -> str:
    """Undo `encode_part`."""
    out: list[str] = []
    index = 0
    while index < len(encoded):
        char = encoded[index]
        if char == ESCAPE:
            out.append(chr(int(encoded[index + 1 : index + 3], 16)))
            index += 3
        else:
            out.append(char)
            index += 1

    return "".join(out)


def compound_key(*parts: str) -> str:
    """A key made of several free-text parts, within the size limit."""
    key = SEPARATOR.join(encode_part(part) for part in parts)
    # Table Storage counts UTF-16 bytes; stay well below to allow prefixes.
    if len(key.encode("utf-16-le")) <= MAX_KEY_BYTES - 64:
        return key

    # The digest covers the encoded key, which already tells the parts apart.
    digest = hashlib.sha256(key.encode("utf-8")).hexdigest()
    return f"{ESCAPE}sha256{SEPARATOR}{digest}"
