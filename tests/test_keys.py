"""Free-text names become Table Storage keys reversibly and within limits."""

import pytest

from core.keys import MAX_KEY_BYTES, compound_key, decode_part, encode_part
from tests.support.names import FREE_TEXT_NAMES

FORBIDDEN = (
    set("/\\#?\u2028\u2029")
    | {chr(code) for code in range(0x20)}
    | {chr(code) for code in range(0x7F, 0xA0)}
)


@pytest.mark.parametrize("text", FREE_TEXT_NAMES)
def test_encoding_round_trips_and_avoids_forbidden_characters(text: str) -> None:
    """Every name decodes back exactly, and its key holds no forbidden character."""
    encoded = encode_part(text)

    assert decode_part(encoded) == text
    assert not FORBIDDEN & set(encoded)


def test_distinct_pairs_never_share_a_key() -> None:
    """The separator is escaped inside parts, so ('a|b', 'c') and ('a', 'b|c') differ."""
    assert compound_key("a|b", "c") != compound_key("a", "b|c")


def test_overlong_keys_become_a_digest_within_the_limit() -> None:
    """Names too long to encode in 1 KiB get a stable digest key instead."""
    resource, name = "R/" * 300, "名" * 512

    key = compound_key(resource, name)

    assert len(key.encode("utf-16-le")) <= MAX_KEY_BYTES
    assert key == compound_key(resource, name)
    assert key != compound_key(resource, name + "x")


def test_overlong_pairs_split_differently_get_different_digests() -> None:
    """A NUL (or any character) at the seam cannot make two long pairs share a digest."""
    first = compound_key("x" * 400 + "\0" + "y" * 10, "z" * 400)
    second = compound_key("x" * 400, "y" * 10 + "\0" + "z" * 400)

    assert first.startswith("!sha256|")
    assert first != second
