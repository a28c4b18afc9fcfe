"""Questions a researcher asks of the newest committed release, answered by plain queries over `models` and
`training_runs` (the numbers are the published ones, checked against the curated files' printed values)."""

from __future__ import annotations

import duckdb
import pytest
import yaml

from tests.conftest import REPO

LATEST = REPO / "exports" / (REPO / "exports" / "LATEST").read_text().strip()
if not (LATEST / "models.parquet").exists():
    pytest.skip("the newest release has no models table", allow_module_level=True)


@pytest.fixture(scope="module")
def con():
    con = duckdb.connect()
    for table in ("models", "training_runs", "disclosures"):
        con.execute(f"create view {table} as select * from read_parquet('{LATEST / (table + '.parquet')}')")
    yield con
    con.close()


def one(con, sql):
    cursor = con.execute(sql)
    names = [d[0] for d in cursor.description]
    rows = [dict(zip(names, r, strict=True)) for r in cursor.fetchall()]
    assert len(rows) == 1, rows
    return rows[0]


def printed(source_id: str, model_id: str, locator_start: str) -> str:
    """A value as the curated file prints it (the test's expectation comes from the data, not the code)."""
    data = yaml.safe_load((REPO / "data" / "curated" / f"{source_id}.yaml").read_text())
    for run in data["runs"]:
        for fig in run["figures"]:
            if (run["model_id"], fig["metric"]) == (model_id, "emissions") and fig["locator"].startswith(locator_start):
                return fig["value"]
    raise LookupError((source_id, model_id, locator_start))


def number(text: str) -> float:
    return float(text.replace(",", "").removeprefix("approximately").strip())


def test_every_model_appears_once_and_no_epoch_row_duplicates_a_registered_model(con):
    (n, distinct) = con.execute("select count(*), count(distinct model_id) from models").fetchone()
    assert n == distinct
    for epoch_name in ("BLOOM-176B", "LaMDA", "Switch", "GPT-3 175B (davinci)", "Stable Diffusion (LDM-KL-8-G)",
                       "Transformer", "GLaM"):
        row = one(con, f"select model_id, registry_origin from models where epoch_name = '{epoch_name}'")
        assert not row["model_id"].startswith("epoch/"), row


def test_gpt3_headline_is_the_third_party_figure_the_climate_card_cites(con):
    row = one(con, "select * from models where model_id = 'openai/gpt-3'")
    assert row["training_disclosure_type"] == "third-party" and row["training_source_id"] == "patterson2021"
    # Table 4 prints 552.1; the paper's text rounds it (either may be the run's figure)
    assert row["training_tco2e"] == pytest.approx(number(printed("patterson2021", "openai/gpt-3", "Table 4")), rel=1e-3)
    card = one(con, "select * from training_runs where model_id = 'openai/gpt-3' "
                    "and source_id = 'hershcovich2022_gpt3_climate_card'")
    assert not card["is_headline"] and card["emissions_tco2e"] > 5000


def test_bloom_is_one_model_with_its_final_run_and_life_cycle_figures(con):
    row = one(con, "select * from models where model_id = 'bigscience/bloom'")
    assert row["training_tco2e"] == pytest.approx(24.7) and row["training_disclosure_type"] == "first-party"
    assert row["training_boundary"] == "final run only"
    # two first-party life-cycle studies (the carbon paper and the BLOOM paper): the figure is its source's own
    lifecycle_locators = {"luccioni2022_bloom": "Abstract (life", "bigscience2022_bloom_paper": "Sec. 3.5.1, second"}
    source = row["lifecycle_source_id"]
    expected = number(printed(source, "bigscience/bloom", lifecycle_locators[source]))
    assert row["lifecycle_tco2e"] == pytest.approx(expected)
    assert row["training_location"] == "FR" and row["epoch_name"] == "BLOOM-176B"


def test_llama_3_1_family_sums_to_the_family_total_once(con):
    family = number(printed("meta_llama3_1_model_card", "meta-llama/llama-3.1-family",
                            "Hardware and Software, emissions table, row Total, column Training Location"))
    (total,) = con.execute("""
        select sum(emissions_tco2e) from training_runs
        where is_headline and stage = 'pretraining'
          and (model_id like 'meta-llama/Llama-3.1-%' or model_id = 'meta-llama/llama-3.1-family')""").fetchone()
    assert total == pytest.approx(family)
    # the Llama 3.3 card repeats the 3.1 totals: never a headline
    (n,) = con.execute("select count(*) from training_runs where is_headline and emissions_tco2e = 11390").fetchone()
    assert n == 0


def test_llama_3_3_headline_is_not_the_misprint(con):
    row = one(con, "select * from models where model_id = 'meta-llama/Llama-3.3-70B-Instruct'")
    assert row["training_tco2e"] > 1000  # 7.0M H100-hours; the card's table prints 12.9
    misprint = one(con, "select * from training_runs where model_id = 'meta-llama/Llama-3.3-70B-Instruct' "
                        "and emissions_tco2e = 12.9")
    assert not misprint["is_headline"] and misprint["arithmetic_factor"] > 3


def test_olmo_7b_and_twin_keep_the_labels_of_the_model_card(con):
    olmo = one(con, "select * from models where model_id = 'allenai/OLMo-7B'")
    twin = one(con, "select * from models where model_id = 'allenai/OLMo-7B-Twin-2T'")
    assert olmo["training_tco2e"] > 50 and twin["training_tco2e"] == 0  # the A100 run and the LUMI (hydro) run


def test_deepseek_v3_total_is_not_counted_next_to_its_stages(con):
    totals = con.execute("select count(*) from training_runs where model_id = 'deepseek-ai/DeepSeek-V3' "
                         "and stage = 'total' and is_headline").fetchone()[0]
    assert totals == 0
    row = one(con, "select * from models where model_id = 'deepseek-ai/DeepSeek-V3'")
    assert row["training_model_id"] == "deepseek-ai/DeepSeek-V3-Base"


def test_estimates_for_models_with_a_documented_location_use_it(con):
    rows = con.execute("""
        select r.run_id, r.location_id, m.training_location
        from training_runs as r join models as m using (model_id)
        where r.disclosure_type = 'estimate' and m.training_location is not null""").fetchall()
    for run_id, location_id, documented in rows:
        assert location_id == documented, run_id
    deepseek = one(con, "select location_id from training_runs "
                        "where run_id = 'deepseek-ai/DeepSeek-V3-Base@pretraining@estimate'")
    assert deepseek["location_id"] == "CN"


def test_each_model_and_stage_has_at_most_one_headline(con):
    (n,) = con.execute("select count(*) from (select model_id, stage from training_runs where is_headline "
                       "group by all having count(*) > 1)").fetchone()
    assert n == 0
