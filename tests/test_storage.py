"""Storage against Azurite: free-text names round-trip, limits hold."""

from datetime import UTC, datetime

import pytest

from core.errors import PayloadTooLargeError
from core.storage import Storage
from tests.support.names import FREE_TEXT_NAMES

NOW = datetime(2026, 12, 3, 12, 0, tzinfo=UTC)


@pytest.mark.parametrize("text", FREE_TEXT_NAMES)
async def test_free_text_resource_and_name_round_trip(
    storage: Storage, tag: str, text: str
) -> None:
    """Save, list, read back and delete with the name used as resource and as key."""
    set_id = f"set-{tag}"
    values = {"en": f"value of {text}", "ja": "値"}

    await storage.translations.save(set_id, text, text, values, NOW)
    listed = await storage.translations.in_set(set_id)
    by_resource = await storage.translations.in_set(set_id, resource=text)
    read = await storage.translations.get(set_id, text, text)
    deleted = await storage.translations.delete(set_id, text, text)

    assert [(t.resource, t.name, t.values) for t in listed] == [(text, text, values)]
    assert [t.name for t in by_resource] == [text]
    assert read is not None
    assert read.values == values
    assert deleted is True
    assert await storage.translations.get(set_id, text, text) is None


async def test_every_free_text_name_goes_in_one_batch_delete(storage: Storage, tag: str) -> None:
    """A set's deletion removes its translations in transactions; no name trips them up."""
    set_id = f"set-{tag}"
    entities = [
        storage.translations.entity(set_id, text, text, {"en": "x"}, NOW)
        for text in FREE_TEXT_NAMES
    ]
    await storage.translations.save_many(set_id, entities)

    deleted = await storage.translations.delete_all(set_id)

    assert deleted == len(FREE_TEXT_NAMES)
    assert await storage.translations.in_set(set_id) == []


async def test_long_texts_in_many_cultures_are_chunked_and_read_back(
    storage: Storage, tag: str
) -> None:
    """Values larger than one 64 KiB property are split and joined exactly."""
    values = {culture: "Ω" * 32_000 for culture in ("en", "de", "fr", "ja")}

    await storage.translations.save(f"set-{tag}", "r", "n", values, NOW)
    read = await storage.translations.get(f"set-{tag}", "r", "n")

    assert read is not None
    assert read.values == values


async def test_values_beyond_what_an_entity_holds_are_refused(storage: Storage, tag: str) -> None:
    """More than an entity can hold is a PayloadTooLargeError, not a storage failure."""
    values = {f"x-{index:03d}": "a" * 32_000 for index in range(20)}

    with pytest.raises(PayloadTooLargeError):
        await storage.translations.save(f"set-{tag}", "r", "n", values, NOW)


async def test_many_translations_save_in_batches_and_delete_with_the_set(
    storage: Storage, tag: str
) -> None:
    """Batches over 100 entities are split; deleting all empties the partition."""
    set_id = f"set-{tag}"
    entities = [
        storage.translations.entity(set_id, "bulk", f"key {index}", {"en": str(index)}, NOW)
        for index in range(250)
    ]

    await storage.translations.save_many(set_id, entities)
    saved = await storage.translations.in_set(set_id, "bulk")
    deleted = await storage.translations.delete_all(set_id)

    assert len(saved) == 250
    assert deleted == 250
    assert await storage.translations.in_set(set_id) == []
