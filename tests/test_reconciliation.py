"""Headline precedence, conflicts and the scorecard, on a small curated dataset built for the purpose."""

from __future__ import annotations

import shutil

import pytest
import yaml

from tests.conftest import REPO, fetch, pipeline_env, refresh


def source(source_id, organization, published):
    return {"source_id": source_id, "title": f"Document {source_id}", "organization": organization,
            "published": published, "kind": "paper", "url": f"https://example.org/{source_id}",
            "license": "test", "verified_in": f"https://example.org/{source_id}", "verification": "primary",
            "verification_note": "test fixture"}


def run(model_id, organization, figures, **extra):
    return {"model_id": model_id, "model_name": model_id.split("/")[1], "organization": organization,
            "stage": "pretraining", "figures": figures, **extra}


def fig(metric, value, unit, locator, **extra):
    return {"metric": metric, "value": value, "unit": unit, "locator": locator, **extra}


CURATED = {
    # the developer's own paper
    "dev_paper": [
        run("acme/big", "Acme", [fig("emissions", "75", "tons", "Sec. 6"),
                                 fig("chip_hours", "800,000", "GPU hours", "Sec. 2")],
            year=2022, hardware="A100-80GB"),
        run("acme/small", "Acme", [fig("emissions", "14", "tCO2eq", "Table 1, row small"),
                                   fig("emissions", "0", "tCO2eq", "Table 1, row small, market",
                                       basis="market-based")], basis="location-based"),
    ],
    # a later paper by someone else restating both models
    "other_paper": [
        run("acme/big", "Acme", [fig("emissions", "137", "tCO2eq", "Table 15, row big")],
            basis="location-based", is_restatement=True),
        run("acme/small", "Acme", [fig("emissions", "14.4", "tCO2eq", "Table 15, row small")],
            basis="location-based", is_restatement=True),
        run("other/model", "Other", [fig("energy", "1.5", "MWh", "Table 15, row model")], is_restatement=True),
    ],
    # an older version of the developer's card, replaced later
    "dev_card_old": [
        run("acme/big", "Acme", [fig("emissions", "90", "t", "card v1", is_superseded=True,
                                     superseded_on="2023-01-01")]),
    ],
    # a family report: a family total, its members, a total over two stages, a misprint and a flagged row
    "family_report": [
        run("acme/fam-a", "Acme", [fig("emissions", "10", "tCO2eq", "Table 1, row A")], basis="location-based"),
        run("acme/fam-b", "Acme", [fig("emissions", "30", "tCO2eq", "Table 1, row B")], basis="location-based"),
        run("acme/fam-family", "Acme", [fig("emissions", "40", "tCO2eq", "Table 1, row Total")],
            basis="location-based"),
        {**run("acme/fam-b", "Acme", [fig("emissions", "35", "tCO2eq", "Sec. 5, all stages")],
               basis="location-based"), "stage": "total", "model_name": "fam-b, all stages"},
        run("acme/misprint", "Acme", [fig("emissions", "1", "tCO2eq", "Table 2, emissions"),
                                      fig("energy", "1,000", "MWh", "Table 2, energy"),
                                      fig("carbon_intensity", "0.4", "kg/kWh", "Table 2, grid")]),
        run("acme/flagged", "Acme", [fig("emissions", "500", "tCO2eq", "Table 3")],
            not_headline="row label swapped with another model"),
        run("acme/flagged", "Acme", [fig("emissions", "50", "tCO2eq", "Appendix, restated")],
            model_name="flagged, appendix", is_restatement=True),
    ],
    # the developer's figure repeated word for word in a later paper by others
    "copy_paper": [
        run("acme/small", "Acme", [fig("emissions", "14", "tCO2eq", "Table 9, row small")],
            basis="location-based", is_restatement=True),
    ],
}

MODELS = {
    "organizations": [{"name": "Acme", "aliases": ["Acme Labs"]}, {"name": "Someone"}, {"name": "Other"}],
    "models": [
        {"model_id": m, "model_name": m.split("/")[1], "organization": org, "citation": f"https://example.org/{m}",
         **extra}
        for m, org, extra in [
            ("acme/big", "Acme", {"aliases": ["Acme Big"]}), ("acme/small", "Acme", {}),
            ("other/model", "Other", {}), ("acme/fam-a", "Acme", {"family_id": "acme/fam-family"}),
            ("acme/fam-b", "Acme", {"family_id": "acme/fam-family"}),
            ("acme/fam-family", "Acme", {"is_aggregate": True, "members": ["acme/fam-a", "acme/fam-b"]}),
            ("acme/misprint", "Acme", {}), ("acme/flagged", "Acme", {}),
        ]
    ],
}


@pytest.fixture(scope="module")
def warehouse(tmp_path_factory):
    root = tmp_path_factory.mktemp("reconcile")
    data = root / "data"
    (data / "sources").mkdir(parents=True)
    (data / "curated").mkdir()
    if (REPO / "data" / "reference").is_dir():
        shutil.copytree(REPO / "data" / "reference", data / "reference")
    registry = [source("dev_paper", "Acme", "2022-05-01"), source("other_paper", "Someone", "2023-02-01"),
                source("dev_card_old", "Acme", "2022-06-01"), source("family_report", "Acme Labs", "2023-03-01"),
                source("copy_paper", "Someone", "2024-01-01")]
    (data / "reference" / "models.yaml").write_text(yaml.safe_dump(MODELS))
    # the dataset behind Epoch-fed estimated runs is a registered source like any other
    registry += [s for s in yaml.safe_load((REPO / "data" / "sources" / "registry.yaml").read_text())
                 if s["source_id"] == "epoch_notable_ai_models"]
    (data / "sources" / "registry.yaml").write_text(yaml.safe_dump(registry))
    (data / "sources" / "hub_watchlist.yaml").write_text("[]\n")
    (data / "sources" / "inference_energy.yaml").write_text("[]\n")  # no measured-inference project here
    # a dataset of three documents cannot hold the full dataset's backtest thresholds
    (data / "backtest_thresholds.yaml").write_text(yaml.safe_dump({
        "median_error_factor_max": 10.0, "share_within_1_25_min": 0.0, "coverage_tolerance": 1.0,
        "median_high_low_ratio_max": 1000.0, "tdp_convention_share_within_1_25_min": 0.0, "scored_runs_min": 1}))
    for source_id, runs in CURATED.items():
        (data / "curated" / f"{source_id}.yaml").write_text(yaml.safe_dump({"source_id": source_id, "runs": runs}))
    with pipeline_env(root, AI_EMISSIONS_DATA=data):
        refresh()
    return {"home": root / "home"}


def rows(env, sql):
    return fetch(env, sql, as_dicts=True)


def test_first_party_figure_is_the_headline_over_restatements_and_superseded(warehouse):
    (big,) = rows(warehouse, "select * from training_runs where model_id = 'acme/big' and is_headline")
    assert big["emissions_tco2e"] == 75 and big["source_id"] == "dev_paper" and not big["is_restatement"]
    assert big["chip_hours"] == 800_000 and big["emissions_origin"] == "disclosed"


def test_market_based_figure_has_its_own_column(warehouse):
    (small,) = rows(warehouse, "select * from training_runs where model_id = 'acme/small' and is_headline")
    assert small["emissions_tco2e"] == 14 and small["emissions_basis"] == "location-based"
    assert small["market_based_emissions_tco2e"] == 0


def test_a_model_known_only_from_a_restatement_is_flagged(warehouse):
    disclosed, estimate = rows(warehouse, "select * from training_runs where model_id = 'other/model' "
                                          "order by precedence desc")
    assert disclosed["is_restatement"] and disclosed["energy_kwh"] == 1500 and disclosed["emissions_tco2e"] is None
    assert disclosed["disclosure_type"] == "third-party" and not disclosed["is_headline"]
    # no emissions disclosed: an estimate run fills the gap from the disclosed energy, marked as estimated
    assert estimate["is_headline"] and estimate["disclosure_type"] == "estimate"
    assert estimate["emissions_origin"] == "estimated" and estimate["energy_origin"] == "disclosed"
    assert estimate["energy_kwh"] == 1500 and estimate["run_id"] == "other/model@pretraining@estimate"
    assert estimate["estimate_low_tco2e"] <= estimate["emissions_tco2e"] <= estimate["estimate_high_tco2e"]


def test_conflicts_list_real_disagreements_with_both_sources(warehouse):
    conflicts = rows(warehouse, "select * from conflicts where model_id in ('acme/big', 'acme/small')")
    assert len(conflicts) == 1, conflicts  # 14 vs 14.4 is rounding; market-based and superseded are not compared
    (c,) = conflicts
    assert c["model_id"] == "acme/big" and c["conflict_kind"] == "first-party vs restatement"
    assert (c["value_a"], c["source_id_a"], c["value_b"], c["source_id_b"]) == (75, "dev_paper", 137, "other_paper")
    assert c["source_url_a"].endswith("dev_paper") and c["source_url_b"].endswith("other_paper")


def test_superseded_figure_is_kept_and_flagged(warehouse):
    (old,) = rows(warehouse, "select * from disclosures where source_id = 'dev_card_old'")
    assert old["is_superseded"] and old["superseded_on"] == "2023-01-01" and old["value"] == 90


def test_scorecard_counts_first_party_disclosures_only(warehouse):
    card = {r["scorecard_id"]: r for r in rows(warehouse, "select * from disclosure_scorecard")}
    big, small = card["model:acme/big"], card["model:acme/small"]
    assert big["has_emissions"] and big["has_chip_hours"] and big["has_hardware"]
    assert not big["has_market_based_emissions"] and small["has_market_based_emissions"]
    assert "model:other/model" not in card  # only a restatement exists: nothing disclosed by its developer
    acme = card["organization:Acme"]
    # big, small and the five models of the family report
    assert acme["model_count"] == 7 and acme["has_market_based_emissions"] and acme["has_chip_hours"]


def headline(env, model_id, stage="pretraining"):
    return rows(env, f"select * from training_runs where model_id = '{model_id}' and stage = '{stage}' "
                     "and is_headline")


def test_each_model_and_stage_has_one_headline_unless_covered(warehouse):
    per_stage = rows(warehouse, "select model_id, stage, count(*) filter (where is_headline) as n, "
                                "bool_or(is_aggregate) as agg, bool_or(headline_reason like 'covers stages%') as cov "
                                "from training_runs group by all")
    assert per_stage
    for r in per_stage:
        assert r["n"] == 1 or (r["n"] == 0 and (r["agg"] or r["cov"])), r


def test_a_family_total_is_not_counted_next_to_its_members(warehouse):
    (family,) = rows(warehouse, "select * from training_runs where model_id = 'acme/fam-family'")
    assert family["is_aggregate"] and not family["is_headline"] and family["precedence"] == 1
    assert family["member_model_ids"] == "acme/fam-a,acme/fam-b"
    assert "members" in family["headline_reason"]
    (total,) = rows(warehouse, "select sum(emissions_tco2e) as t from training_runs where is_headline "
                               "and model_id in ('acme/fam-a', 'acme/fam-b', 'acme/fam-family')")
    assert total["t"] == 40  # the family total, once
    # the models table still shows the family's own figure, marked as an aggregate
    (row,) = rows(warehouse, "select * from models where model_id = 'acme/fam-family'")
    assert row["training_tco2e"] == 40 and row["is_aggregate"]


def test_a_total_covering_headline_stages_is_not_a_headline(warehouse):
    (total,) = rows(warehouse, "select * from training_runs where model_id = 'acme/fam-b' and stage = 'total'")
    assert total["emissions_tco2e"] == 35 and not total["is_headline"]
    assert "acme/fam-b pretraining" in total["headline_reason"]
    (row,) = rows(warehouse, "select * from models where model_id = 'acme/fam-b'")
    assert row["training_tco2e"] == 30 and row["total_tco2e"] == 35


def test_a_figure_contradicting_its_own_arithmetic_is_not_the_headline(warehouse):
    runs = rows(warehouse, "select * from training_runs where model_id = 'acme/misprint' order by precedence")
    printed = next(r for r in runs if r["emissions_origin"] == "disclosed")
    # 1,000 MWh at 0.4 kg/kWh is 400 t: the printed 1 t is 400 times away
    assert printed["arithmetic_tco2e"] == pytest.approx(400) and printed["arithmetic_factor"] == pytest.approx(400)
    assert not printed["is_headline"] and "arithmetic" in printed["headline_reason"]
    (chosen,) = headline(warehouse, "acme/misprint")
    assert chosen["disclosure_type"] == "estimate" and chosen["emissions_tco2e"] == pytest.approx(400)
    assert chosen["energy_kwh"] == 1_000_000 and chosen["carbon_intensity_kg_per_kwh"] == pytest.approx(0.4)


def test_a_curator_flag_keeps_a_figure_out_of_the_headline_with_its_reason(warehouse):
    flagged = rows(warehouse, "select * from training_runs where model_id = 'acme/flagged' and emissions_tco2e = 500")
    assert len(flagged) == 1 and not flagged[0]["is_headline"]
    assert flagged[0]["headline_reason"] == "not a headline: row label swapped with another model"
    (chosen,) = headline(warehouse, "acme/flagged")
    assert chosen["emissions_tco2e"] == 50  # the remaining published figure beats an estimate
    # the flagged figure stays in the disclosures
    kept = rows(warehouse, "select count(*) as n from disclosures where model_id = 'acme/flagged' and value = 500")
    assert kept[0]["n"] == 1


def test_first_party_when_the_source_is_the_developer_and_copies_are_not_primary(warehouse):
    small = rows(warehouse, "select * from training_runs where model_id = 'acme/small'")
    by_source = {r["source_id"]: r for r in small}
    # the family report names the developer by an alias ("Acme Labs"): still first-party
    assert by_source["dev_paper"]["disclosure_type"] == "first-party" and by_source["dev_paper"]["is_primary"]
    assert by_source["other_paper"]["disclosure_type"] == "third-party"
    # 14 t printed again by a later paper of others: a copy, not an original
    assert by_source["copy_paper"]["disclosure_type"] == "third-party" and not by_source["copy_paper"]["is_primary"]
    assert by_source["dev_paper"]["n_sources"] == 3


def test_models_answers_who_published_the_headline(warehouse):
    models = {r["model_id"]: r for r in rows(warehouse, "select * from models")}
    assert set(models) >= {"acme/big", "acme/small", "other/model", "acme/fam-family"}
    big = models["acme/big"]
    assert (big["training_tco2e"], big["training_disclosure_type"], big["training_source_id"]) == (75, "first-party",
                                                                                                    "dev_paper")
    assert big["training_boundary"] == "final run only" and big["training_origin"] == "disclosed"
    other = models["other/model"]
    assert other["training_origin"] == "estimated" and other["training_low_tco2e"] <= other["training_tco2e"]
