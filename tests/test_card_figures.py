"""Hub cards into figure rows: parallel parsing, the parse cache, and no card prose in locators."""

from __future__ import annotations

import json

from hub_emulator import generated_card

from pipelines.lib import card_figures as cf


def items(n: int) -> list[tuple[str, str, str, bytes]]:
    return [(f"emulated/model-{i:04d}", f"http://hub.test/emulated/model-{i:04d}/blob/{i:040x}/README.md",
             f"{i:064x}", generated_card(i)) for i in range(n)]


def test_parallel_parsing_gives_the_same_rows_in_the_same_order():
    batch = items(cf.PARALLEL_MIN + 10)
    assert cf.parse_to_cache_rows(batch, len(batch), workers=2) == cf.parse_to_cache_rows(batch, len(batch), workers=1)


def test_cached_rows_round_trip_and_the_cache_key_names_the_snapshot():
    (item,) = items(1)
    figures, issues = cf._parse_one(item)
    assert figures, "a generated card states its emissions"
    key = cf.cache_key(*item[:3])
    row = cf.cache_row(key, figures, issues)
    assert (json.loads(row["figures"]), json.loads(row["issues"])) == (figures, issues)
    assert key != cf.cache_key(item[0], item[1], "f" * 64)  # another snapshot, another entry
    assert cf.cache_row(key, figures, issues)["parser_version"] == cf.PARSER_VERSION


def test_locators_do_not_quote_the_card():
    (item,) = items(1)
    figures, _ = cf._parse_one(item)
    text = item[3].decode()
    for row in figures:
        assert row["locator"] not in text and "emitted" not in row["locator"]
