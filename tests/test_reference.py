"""Reference tables: validation on load, citations, hardware and location resolution, pinned snapshots."""

import importlib.util
import shutil

import pandas as pd
import pytest

from pipelines.lib import reference
from pipelines.lib.reference import (
    REFERENCE_DIR,
    ReferenceDataError,
    load_reference,
    organization_country,
    resolve_hardware,
    resolve_location,
)
from tests.conftest import CORPUS, CORPUS_MISSING


@pytest.fixture(scope="module")
def ref():
    return load_reference()


@pytest.mark.parametrize("text, expected", [
    ("Tesla V100-SXM2-16GB", "nvidia-v100-sxm2-16gb"),
    ("8 x A100 80GB", "nvidia-a100-sxm4-80gb"),
    ("NVIDIA H100 80GB HBM3", "nvidia-h100-sxm5-80gb"),
    ("A100-80GB", "nvidia-a100-sxm4-80gb"),
    ("TPUv4", "google-tpu-v4"),
    ("A100 PCIe 40GB", "nvidia-a100-pcie-40gb"),
    ("H100-80GB (TDP of 700W)", "nvidia-h100-sxm5-80gb"),
    ("TPU v3-256", "google-tpu-v3"),
    ("GPU T4 x 2", "nvidia-t4"),
    ("NVIDIA GeForce RTX 4090", "nvidia-rtx-4090"),
    ("RTX 3090", "nvidia-rtx-3090"),
])
def test_resolve_hardware_common_spellings(ref, text, expected):
    assert resolve_hardware(text, ref) == expected


def test_unknown_hardware_is_none_and_counted(ref):
    before = reference.UNRESOLVED_HARDWARE["Quantum Abacus 9000"]
    assert resolve_hardware("Quantum Abacus 9000", ref) is None
    assert reference.unresolved_counts()["hardware"]["Quantum Abacus 9000"] == before + 1
    assert resolve_hardware(None, ref) is None and resolve_hardware("  ", ref) is None


@pytest.mark.parametrize("text, expected", [
    ("us-east-1", "aws:us-east-1"),
    ("aws:us-east-1", "aws:us-east-1"),
    ("gcp:us-central1", "gcp:us-central1"),
    ("GCP us-central1", "gcp:us-central1"),
    ("azure:eastus", "azure:eastus"),
    ("East US", "azure:eastus"),
    ("AWS us-east", "US"),  # two AWS regions start with us-east, both in the US
    ("US-east", "US"),
    ("France", "FR"),
    ("Germany", "DE"),  # a country name wins over a region-code prefix (germanywestcentral)
    ("Iowa, USA", "US-IA"),  # a state named with its country: the state
    ("Orsay, France", "FR"),
    ("France (FRA)", "FR"),
    ("United States of America", "US"),
    ("US national average (assumed)", "US"),
    ("Oklahoma", "US-OK"),
    ("Jupiter (Texas)", "US-TX"),  # Morrison et al. 2025: cluster name with its state
    ("Augusta (Iowa)", "US-IA"),
    ("Georgia", "GE"),  # alone, the country
])
def test_resolve_location_forms_seen_in_cards(ref, text, expected):
    assert resolve_location(text, ref) == expected


@pytest.mark.parametrize("text", ["europe-west", "nowhere land", "NA", "Microsoft", "Google"])
def test_ambiguous_or_unknown_locations_are_not_guessed(ref, text):
    assert resolve_location(text, ref) is None


@pytest.mark.parametrize("text, expected", [
    ("Google Georgia", "US-GA"),  # Patterson et al. 2021 Table 4: Google data centres named by US state
    ("Google North Carolina", "US-NC"),
    ("Google Taiwan", "TW"),
    ("Google Iowa Council Bluffs", "US-IA"),
    ("Jean Zay", "FR"),
    ("Jean Zay supercomputer operated by GENCI IDRIS, and Adastra", "FR"),  # two French machines
])
def test_named_data_centres_resolve_through_the_cited_table(ref, text, expected):
    assert resolve_location(text, ref) == expected
    names = [n for n in ref.datacenters.name if n.lower() in text.lower()]
    assert names, "resolved by a row of datacenters.csv"
    assert ref.datacenters.set_index("name").loc[names, "source_url"].str.match(r"^https?://").all()


def test_sites_in_different_countries_are_not_guessed(tmp_path):
    for path in REFERENCE_DIR.glob("*.csv"):
        shutil.copy(path, tmp_path / path.name)
    with (tmp_path / "datacenters.csv").open("a") as fh:
        fh.write("Test Site Lisbon,PT,Test,test,https://example.org,test\n")
    ref = load_reference(tmp_path)
    assert resolve_location("Jean Zay and Test Site Lisbon", ref) is None
    assert resolve_location("Test Site Lisbon", ref) == "PT"


def test_datacenter_rows_are_validated(tmp_path):
    for path in REFERENCE_DIR.glob("*.csv"):
        shutil.copy(path, tmp_path / path.name)
    with (tmp_path / "datacenters.csv").open("a") as fh:
        fh.write("Somewhere,Atlantis,Test,test,https://example.org,test\n")  # not an ISO code
    with pytest.raises(ReferenceDataError, match="datacenters.csv"):
        load_reference(tmp_path)


@pytest.mark.parametrize("text, expected", [
    ("8 x A100 80GB", 8), ("2 x Tesla V100", 2), ("384 A100 80GB GPUs", 384), ("32 TPUv3 chips", 32),
    ("P100x8", 8), ("V100x64", 64), ("NVIDIA A100x4 for training", 4), ("GPU T4 x 2", 2),
    ("TPU v3-8", None), ("TPU v3-256", None),  # pod slices count cores, not chips
    ("A100-80GB (TDP of 350-400W)", None), ("80GB A100", None), ("RTX 3090", None), ("H100", None), (None, None),
])
def test_chip_count_printed_in_the_hardware_name(text, expected):
    assert reference.hardware_count(text) == expected


def test_cloud_region_zones_go_from_region_to_state_to_country(ref):
    assert reference.location_zones("aws:us-east-1", ref) == ["aws:us-east-1", "US-VA", "US"]
    assert reference.location_zones("FR", ref) == ["FR"]
    assert reference.location_zones("US-GA", ref) == ["US-GA", "US"]
    assert reference.location_zones(None, ref) == ["WORLD"]


def test_every_row_is_cited(ref):
    for name, frame in [("accelerators", ref.accelerators), ("grid_intensity", ref.grid_intensity),
                        ("pue_defaults", ref.pue_defaults), ("cloud_regions", ref.cloud_regions),
                        ("datacenters", ref.datacenters)]:
        assert frame.source.str.strip().ne("").all(), name
        assert frame.source_url.str.match(r"^https?://").all(), name
        assert frame.locator.str.strip().ne("").all(), name


def test_broken_table_fails_with_file_and_reason(tmp_path):
    for path in REFERENCE_DIR.glob("*.csv"):
        shutil.copy(path, tmp_path / path.name)
    pue = pd.read_csv(tmp_path / "pue_defaults.csv")
    pue.loc[0, "pue_low"] = 3.0  # low end above the default
    pue.to_csv(tmp_path / "pue_defaults.csv", index=False)
    with pytest.raises(ReferenceDataError, match="pue_defaults.csv"):
        load_reference(tmp_path)


def test_alias_to_unknown_hardware_id_is_rejected(tmp_path):
    for path in REFERENCE_DIR.glob("*.csv"):
        shutil.copy(path, tmp_path / path.name)
    with (tmp_path / "hardware_aliases.csv").open("a") as fh:
        fh.write("Imaginary X1,imaginary-x1,test\n")
    with pytest.raises(ReferenceDataError, match="imaginary-x1"):
        load_reference(tmp_path)


def test_accelerator_tdp_matches_pinned_epoch_rows(ref):
    epoch = pd.read_csv(REFERENCE_DIR / "epoch_ml_hardware.csv").set_index("Hardware name")
    from_epoch = ref.accelerators[ref.accelerators.tdp_origin == "epoch"]
    for hardware_id, row in from_epoch.iterrows():
        expected = epoch.loc[row.epoch_hardware_name, "TDP (W)"]
        assert (pd.isna(expected) and pd.isna(row.tdp_w)) or expected == row.tdp_w, hardware_id


def test_pinned_epoch_hardware_is_the_corpus_snapshot_columns():
    source = CORPUS / "epoch" / "ml_hardware.csv"
    if not source.exists():
        pytest.skip(CORPUS_MISSING)
    pinned = pd.read_csv(REFERENCE_DIR / "epoch_ml_hardware.csv")
    full = pd.read_csv(source)[list(pinned.columns)]
    pd.testing.assert_frame_equal(pinned, full)
    assert "Notes" not in pinned.columns


def test_power_range_comes_from_measured_runs(ref):
    low, high = ref.power_factor_range
    # Patterson et al. Table 4: Switch Transformer 245 W on a 450 W TPU v3; GPT-3 330 W on a 300 W V100
    assert low == pytest.approx(245 / 450) and high == pytest.approx(330 / 300)


def test_organization_country_from_epoch():
    assert organization_country("Meta AI") == "US"
    assert organization_country("No Such Lab") is None


@pytest.mark.skipif(importlib.util.find_spec("codecarbon") is None, reason="codecarbon (dev dependency) absent")
def test_committed_grid_rows_match_installed_codecarbon(ref):
    import importlib.metadata

    version = importlib.metadata.version("codecarbon")
    committed = ref.grid_intensity[ref.grid_intensity.source.str.startswith("codecarbon")]
    if not committed.source.str.startswith(f"codecarbon {version},").all():
        pytest.skip(f"reference rows come from another codecarbon version than {version}: rebuild them")
    built = reference.codecarbon_grid_rows()
    key = ["zone_id", "year", "locator"]
    merged = committed.merge(built, on=key, suffixes=("", "_built"), how="outer", indicator=True)
    assert (merged._merge == "both").all()
    assert (merged.kg_per_kwh - merged.kg_per_kwh_built).abs().max() < 1e-9


def test_datacenter_rows_are_read_in_the_cited_documents(ref):
    patterson = CORPUS / "documents" / "arxiv-2104.10350.md"
    bloom_card = CORPUS / "model_cards" / "0011.md"
    if not patterson.exists() or not bloom_card.exists():
        pytest.skip(CORPUS_MISSING)
    text = patterson.read_text(encoding="utf-8").replace("<br>", " ")
    for name in ("Google Georgia", "Google North Carolina", "Google Taiwan", "Google Iowa Council Bluffs"):
        assert name in text, name
    assert "running in Oklahoma" in text and "in Montana" in text  # Appendix B: Georgia next to Montana
    assert "Jean Zay Public Supercomputer, provided by the French government" in bloom_card.read_text(encoding="utf-8")
    cited = ref.datacenters.set_index("name")
    assert cited.loc["Google Georgia", "location_id"] == "US-GA" and cited.loc["Jean Zay", "location_id"] == "FR"


def test_a_location_id_resolves_to_itself():
    # the model registry writes locations as ids; 'US-GA' is the state of Georgia, never the country GA (Gabon)
    ref = reference.load_reference()
    assert reference.resolve_location("US-GA", ref) == "US-GA"
    assert reference.resolve_location("US-OK", ref) == "US-OK"
    assert reference.resolve_location("US", ref) == "US"
