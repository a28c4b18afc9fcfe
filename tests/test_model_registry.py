"""The model registry: validation names the entry and field, names resolve to one canonical id, and a curated
figure about an unregistered model fails the refresh naming its file."""

from __future__ import annotations

import pytest
import yaml

from pipelines.lib import curated
from pipelines.lib.model_registry import RegistryError, load_model_registry
from tests.conftest import REPO

ORGS = [{"name": "Acme", "aliases": ["Acme Labs"], "country": "FR", "citation": "https://example.org/acme"}]


def write(tmp_path, models, organizations=ORGS):
    (tmp_path / "reference").mkdir(exist_ok=True)
    (tmp_path / "reference" / "models.yaml").write_text(yaml.safe_dump({"organizations": organizations,
                                                                         "models": models}))
    return tmp_path


def model(model_id, **extra):
    return {"model_id": model_id, "model_name": model_id.split("/")[1], "organization": "Acme",
            "citation": f"https://example.org/{model_id}", **extra}


def test_the_repository_registry_is_valid_and_covers_every_curated_model():
    registry = load_model_registry(REPO / "data")
    sources = curated.load_registry(REPO / "data" / "sources" / "registry.yaml")
    runs = curated.curated_run_rows(REPO / "data" / "curated", sources, known_models=set(registry.models))
    assert {r["model_id"] for r in runs} <= set(registry.models)
    for m in registry.models.values():
        assert m.citation.startswith(("https://", "http://", "doi:"))
        if m.training_location:
            assert m.training_location_citation


def test_names_and_aliases_resolve_to_one_canonical_id(tmp_path):
    registry = load_model_registry(write(tmp_path, [
        model("acme/big-1", aliases=["Acme Big", "acme/old-name"], epoch_name="BIG-1 (175B)"),
        model("acme/small"),
    ]))
    assert registry.resolve("acme/big-1") == "acme/big-1"
    assert registry.resolve("acme big") == "acme/big-1"  # case and punctuation do not matter
    assert registry.resolve("acme/old-name") == "acme/big-1"
    assert registry.resolve("Big-1 (175B)") == "acme/big-1"
    assert registry.resolve("acme/unknown") is None and registry.resolve("") is None
    assert registry.organization("Acme Labs").country == "FR"


def test_a_name_given_to_two_models_is_an_error_naming_both(tmp_path):
    with pytest.raises(RegistryError, match="acme/a.*acme/b|acme/b.*acme/a"):
        load_model_registry(write(tmp_path, [model("acme/a", aliases=["Shared"]), model("acme/b", aliases=["shared"])]))


@pytest.mark.parametrize(("entry", "message"), [
    (model("acme/x", training_location="FR"), "training_location_citation"),
    (model("acme/x", members=["acme/y"]), "only for aggregates"),
    (model("acme/x", base_model_id="acme/missing"), "acme/missing, which is not a registered model"),
    (model("acme/x", organization="Nobody"), "organization 'Nobody' is not in the organizations list"),
    ({k: v for k, v in model("acme/x").items() if k != "citation"}, r"models\[0\] \(acme/x\)\.citation"),
    (model("acme/x", training_location="France"), "training_location"),
])
def test_an_invalid_entry_is_an_error_naming_the_entry_and_field(tmp_path, entry, message):
    with pytest.raises(RegistryError, match=message):
        load_model_registry(write(tmp_path, [entry]))


def test_a_model_listed_twice_is_an_error(tmp_path):
    with pytest.raises(RegistryError, match="listed twice: acme/x"):
        load_model_registry(write(tmp_path, [model("acme/x"), model("acme/x")]))


def test_a_curated_run_of_an_unregistered_model_names_the_file(tmp_path):
    sources = curated.load_registry(REPO / "data" / "sources" / "registry.yaml")
    (tmp_path / "curated").mkdir()
    (tmp_path / "curated" / "patterson2021.yaml").write_text(yaml.safe_dump({"source_id": "patterson2021", "runs": [
        {"model_id": "google/not-registered", "model_name": "X", "organization": "Google", "stage": "pretraining",
         "figures": [{"metric": "emissions", "value": "1", "unit": "t", "locator": "Table 4"}]}]}))
    with pytest.raises(curated.CuratedDataError, match=r"patterson2021\.yaml.*runs\.0\.model_id.*not-registered"):
        curated.curated_run_rows(tmp_path / "curated", sources, known_models={"google/meena"})
