"""Rows into typed warehouse tables."""

import duckdb
import pytest

from pipelines.lib import warehouse

COLUMNS = {"name": "VARCHAR", "value": "DOUBLE", "count": "BIGINT", "flag": "BOOLEAN", "rank": "INTEGER"}


def test_rows_become_a_typed_table_with_missing_keys_as_nulls():
    rows = [{"name": "a", "value": 1.5, "count": 2, "flag": True, "rank": 7},
            {"name": "b", "count": 3}]
    table = warehouse.arrow_table(rows, COLUMNS)
    assert table.column_names == list(COLUMNS)
    assert table.to_pylist() == [rows[0], {"name": "b", "value": None, "count": 3, "flag": None, "rank": None}]
    assert warehouse.arrow_table([], COLUMNS).schema == table.schema  # typed even when empty


def test_a_row_with_an_unknown_column_is_refused_by_name():
    with pytest.raises(ValueError, match=r"\['surprise'\]"):
        warehouse.arrow_table([{"name": "a"}, {"name": "b", "surprise": 1}], COLUMNS)


def test_replace_table_swaps_the_content(tmp_path):
    con = duckdb.connect(str(tmp_path / "w.duckdb"))
    assert warehouse.replace_table(con, "t", [{"name": "old"}], COLUMNS) == 1
    assert warehouse.replace_table(con, "t", ({"name": n, "count": i} for i, n in enumerate("xyz")), COLUMNS) == 3
    assert con.execute("select name, count from t order by name").fetchall() == [("x", 0), ("y", 1), ("z", 2)]
