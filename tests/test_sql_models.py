from pathlib import Path

import pytest

from pipelines.lib.sql_models import SqlModelError, load_models, load_tests, table_references

REPO = Path(__file__).resolve().parents[1]


def write(root: Path, layer: str, name: str, sql: str) -> Path:
    path = root / layer / f"{name}.sql"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(sql)
    return path


def test_references_skip_ctes_files_and_table_functions():
    sql = """
        with recent as (select * from disclosures where year > 2020),
             other as (select * from recent)
        select *
        from other
        join sources using (source_id)
        join 'data/reference/grid.csv' g on true
        join read_parquet('x/*.parquet') p on true
        cross join range(3) r
        cross join main.training_runs t
    """
    assert table_references(sql) == {"disclosures", "sources", "training_runs"}


def test_reference_to_a_table_named_like_a_cte_in_another_scope_is_kept():
    assert table_references("select * from a join (with b as (select 1) select * from b) s on true") == {"a"}


def test_unparseable_sql_names_the_file(tmp_path):
    write(tmp_path, "staging", "stg_bad", "select from from where")
    with pytest.raises(SqlModelError, match="stg_bad.sql"):
        load_models(tmp_path, set())


def test_models_are_ordered_by_their_parsed_dependencies(tmp_path):
    write(tmp_path, "marts", "final", "select * from int_mid")
    write(tmp_path, "intermediate", "int_mid", "select * from stg_raw")
    write(tmp_path, "staging", "stg_raw", "select * from raw_table")
    models = load_models(tmp_path, {"raw_table"})
    assert [m.name for m in models] == ["stg_raw", "int_mid", "final"]
    assert models[2].deps == ("int_mid",)


def test_code_version_is_the_file_sha256(tmp_path):
    import hashlib

    path = write(tmp_path, "staging", "stg_a", "select 1 as one")
    (model,) = load_models(tmp_path, set())
    assert model.code_version == hashlib.sha256(path.read_bytes()).hexdigest()


def test_unknown_table_is_an_error_naming_file_and_table(tmp_path):
    write(tmp_path, "marts", "final", "select * from no_such_table")
    with pytest.raises(SqlModelError) as err:
        load_models(tmp_path, {"raw_table"})
    assert "final.sql" in str(err.value) and "no_such_table" in str(err.value)


def test_cycle_is_an_error_naming_the_files(tmp_path):
    write(tmp_path, "intermediate", "int_a", "select * from int_b")
    write(tmp_path, "intermediate", "int_b", "select * from int_a")
    with pytest.raises(SqlModelError) as err:
        load_models(tmp_path, set())
    assert "cycle" in str(err.value) and "int_a.sql" in str(err.value) and "int_b.sql" in str(err.value)


def test_tests_must_reference_known_tables(tmp_path):
    write(tmp_path, "tests", "assert_x", "select * from ghost")
    with pytest.raises(SqlModelError, match="assert_x.sql.*ghost"):
        load_tests(tmp_path, {"real"})


def test_the_repository_models_load():
    from pipelines.definitions import build_definitions
    from pipelines.lib.settings import Paths

    defs = build_definitions(Paths.from_env())
    keys = {k.to_user_string() for k in defs.resolve_asset_graph().get_all_asset_keys()}
    for sql in (REPO / "dbt_like_sql").glob("[!t]*/*.sql"):
        assert sql.stem in keys
