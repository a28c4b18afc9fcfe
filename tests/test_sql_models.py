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


def _run_sql_project(root: Path, database: Path):
    """The SQL loader's assets and blocking checks (grouped into steps as the pipeline groups them), run."""
    import dagster as dg
    from dagster_duckdb import DuckDBResource

    from pipelines.defs.transform import check_steps, sql_definitions

    assets, tests = sql_definitions(root, {})
    step_of = {key.to_user_string(): a.node_def.name for a in assets for key in a.keys}
    defs = dg.Definitions(assets=assets, asset_checks=check_steps(tests, step_of),
                          resources={"duckdb": DuckDBResource(database=str(database))})
    result = defs.resolve_implicit_global_asset_job_def().execute_in_process(raise_on_error=False)
    built = {e.asset_key.to_user_string() for e in result.get_asset_materialization_events()}
    failed = {e.check_name for e in result.get_asset_check_evaluations() if not e.passed}
    return {a.node_def.name for a in assets}, built, failed


def test_a_layer_runs_as_one_step_and_a_failing_check_still_blocks_what_reads_its_table(tmp_path):
    write(tmp_path, "staging", "stg_a", "select 1 as x")
    write(tmp_path, "staging", "stg_b", "select 2 as y")
    write(tmp_path, "intermediate", "int_c", "select * from stg_a, stg_b")
    write(tmp_path, "marts", "mart_d", "select * from int_c")
    write(tmp_path, "tests", "assert_int_c_empty", "select * from int_c")  # fails: int_c has a row

    steps, built, failed = _run_sql_project(tmp_path, tmp_path / "w.duckdb")

    assert steps == {"staging", "int_c", "mart_d"}  # the two independent staging models share a step
    assert failed == {"assert_int_c_empty"}
    assert built == {"stg_a", "stg_b", "int_c"}  # mart_d reads the failing table: never built


def test_a_model_reading_a_checked_model_of_its_own_layer_gets_its_own_step(tmp_path):
    write(tmp_path, "staging", "stg_a", "select 1 as x")
    write(tmp_path, "staging", "stg_b", "select * from stg_a")
    write(tmp_path, "tests", "assert_stg_a_empty", "select * from stg_a")  # fails

    steps, built, failed = _run_sql_project(tmp_path, tmp_path / "w.duckdb")

    assert steps == {"stg_a", "stg_b"}  # one step would build stg_b before stg_a's check ran
    assert failed == {"assert_stg_a_empty"}
    assert built == {"stg_a"}
