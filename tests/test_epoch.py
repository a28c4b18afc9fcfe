"""Epoch AI Notable AI Models -> estimator inputs: column aliases, clear errors, pinned offline copy."""

import pandas as pd
import pytest

from pipelines.lib import epoch
from pipelines.lib.estimate import estimate_frame
from tests.conftest import CORPUS, CORPUS_MISSING


@pytest.fixture(scope="module")
def corpus_models():
    path = CORPUS / "epoch" / "notable_ai_models.csv"
    if not path.exists():
        pytest.skip(CORPUS_MISSING)
    return pd.read_csv(path)


def test_maps_the_corpus_snapshot(corpus_models):
    models = epoch.map_notable_models(corpus_models).set_index("model_name")
    llama = models.loc["Llama 3.1-405B"]
    raw = corpus_models.set_index("Model").loc["Llama 3.1-405B"]
    assert llama.hardware_id == "nvidia-h100-sxm5-80gb"
    assert llama.chip_count == raw["Hardware quantity"]
    assert llama.chip_hours == raw["Hardware quantity"] * raw["Training time (hours)"]
    assert llama.year == 2024 and llama.organization == "Meta AI"
    assert llama.training_power_draw_w == raw["Training power draw (W)"]


def test_renamed_columns_are_found_by_alias(corpus_models):
    renamed = corpus_models.rename(columns={"Model": "System", "Organization": "Organization(s)"})
    models = epoch.map_notable_models(renamed)
    assert "Llama 3.1-405B" in set(models.model_name)


def test_missing_required_column_fails_clearly(corpus_models):
    with pytest.raises(epoch.EpochColumnError, match="chip_count.*Hardware quantity"):
        epoch.map_notable_models(corpus_models.drop(columns=["Hardware quantity"]))


def test_pinned_snapshot_matches_corpus_and_has_no_prose(corpus_models):
    pinned = pd.read_csv(epoch.PINNED_SNAPSHOT)
    assert not {"Abstract", "Authors", "Training compute notes"} & set(pinned.columns)
    pd.testing.assert_frame_equal(pinned, corpus_models[list(pinned.columns)])


def test_pinned_snapshot_feeds_the_estimator_offline():
    models = epoch.load_notable_models()
    inputs = epoch.estimator_inputs(models)
    assert len(inputs) > 50 and inputs.chip_hours.gt(0).all()
    out = estimate_frame(inputs.head(40))
    known = out[out.hardware_id.notna() & out.power_w_used.notna()]
    assert len(known) > 10
    assert (known.total_tco2e > 0).all()
    assert (known.power_w_origin == "epoch").any()
    unknown = out[out.hardware_id.isna() & out.hardware.notna()]
    assert unknown.message.str.contains("unknown hardware").all()
