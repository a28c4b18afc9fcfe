from pathlib import Path

import pytest
import yaml

from pipelines.lib.curated import CuratedDataError, curated_figure_rows, load_curated_file, load_registry

REPO = Path(__file__).resolve().parents[1]
REGISTRY = REPO / "data" / "sources" / "registry.yaml"


def test_repository_data_loads():
    registry = load_registry(REGISTRY)
    rows = curated_figure_rows(REPO / "data" / "curated", registry)
    assert rows and all(r["locator"] and r["value_as_printed"] for r in rows)
    assert len({r["disclosure_id"] for r in rows}) == len(rows)


def curated_file(tmp_path: Path, figure: dict, **run) -> Path:
    data = {"source_id": "touvron2023_llama", "runs": [{
        "model_id": "meta/llama-7b", "model_name": "LLaMA-7B", "organization": "Meta AI",
        "stage": "pretraining", **run, "figures": [figure]}]}
    path = tmp_path / "touvron2023_llama.yaml"
    path.write_text(yaml.safe_dump(data))
    return path


GOOD = {"metric": "emissions", "value": "14", "unit": "tCO2eq", "locator": "Table 15"}


def test_a_valid_file_loads(tmp_path):
    curated = load_curated_file(curated_file(tmp_path, GOOD), {"touvron2023_llama"})
    assert curated.runs[0].figures[0].value == "14"


@pytest.mark.parametrize(
    ("figure", "run", "field"),
    [
        ({**GOOD, "metric": "vibes"}, {}, "runs.0.figures.0.metric"),
        ({**GOOD, "unit": "furlongs"}, {}, "runs.0.figures.0"),
        ({k: v for k, v in GOOD.items() if k != "locator"}, {}, "runs.0.figures.0.locator"),
        ({**GOOD, "value": 14.0}, {}, "runs.0.figures.0.value"),
        (GOOD, {"stage": "training-ish"}, "runs.0.stage"),
        ({**GOOD, "is_superseded": True}, {}, "runs.0.figures.0.superseded_on"),
        ({**GOOD, "surprise": 1}, {}, "runs.0.figures.0.surprise"),
    ],
)
def test_invalid_files_name_the_file_and_field(tmp_path, figure, run, field):
    path = curated_file(tmp_path, figure, **run)
    with pytest.raises(CuratedDataError) as err:
        load_curated_file(path, {"touvron2023_llama"})
    assert str(path) in str(err.value) and field in str(err.value)


def test_unknown_source_and_misnamed_file_are_errors(tmp_path):
    path = curated_file(tmp_path, GOOD)
    with pytest.raises(CuratedDataError, match="not in the source registry"):
        load_curated_file(path, {"another"})
    renamed = path.rename(tmp_path / "other_name.yaml")
    with pytest.raises(CuratedDataError, match="must match the file name"):
        load_curated_file(renamed, {"touvron2023_llama"})


def test_registry_errors_name_the_entry(tmp_path):
    path = tmp_path / "registry.yaml"
    entries = yaml.safe_load(REGISTRY.read_text())
    entries[0] = {**entries[0], "url": "not a url"}
    path.write_text(yaml.safe_dump(entries))
    with pytest.raises(CuratedDataError, match=r"registry.yaml: field \[0\] touvron2023_llama.url"):
        load_registry(path)
