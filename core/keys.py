"""Reversible encoding of free text into Table Storage keys.

Keys may not hold `/ \\ # ?` or control characters, and `%`, `'`, `.` and `+`
misbehave in the URLs of point operations on some stacks, and the line and
paragraph separators U+2028 and U+2029 break batch deletes on Azurite. Each
such character becomes `!` plus its code point in hex (`!u` and four digits
for the separators), so keys stay readable and sort like the text. Keys
that would exceed the 1 KiB limit are replaced by a digest; the original
text is always stored in the entity's properties as well.
"""

import hashlib

ESCAPE = "!"
# Joins the parts of a compound key; escaped inside parts, so it splits safely.
SEPARATOR = "|"
MAX_KEY_BYTES = 1024
_RISKY = (
    set("/\\#?%'.+!|\u2028\u2029")
    | {chr(c) for c in range(0x20)}
    | {chr(c) for c in range(0x7F, 0xA0)}
)
# Marks an escape of four hex digits; not a hex digit itself, so never ambiguous.
_WIDE = "u"


def encode_part(text: str) -> str:
    """Escape `text` so it can stand in a key; `decode_part` reverses it."""
    return "".join(_escape(char) if char in _RISKY else char for char in text)


def _escape(char: str) -> str:
    code = ord(char)
    return f"{ESCAPE}{code:02x}" if code < 0x100 else f"{ESCAPE}{_WIDE}{code:04x}"


def decode_part(encoded: str) -> str:
    """Undo `encode_part`."""
    out: list[str] = []
    index = 0
    while index < len(encoded):
        char = encoded[index]
        if char == ESCAPE and encoded[index + 1 : index + 2] == _WIDE:
            out.append(chr(int(encoded[index + 2 : index + 6], 16)))
            index += 6
        elif char == ESCAPE:
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
