"""Measured inference energy (AI Energy Score, ML.ENERGY): the pinned snapshots, the unit conversion to Wh per
query, the online fetch (a local server stands in for the result-file hosts) and the join to the model registry."""

from __future__ import annotations

import hashlib
import json
from decimal import Decimal

import pytest
import yaml

from pipelines.lib import inference_energy as ie
from pipelines.lib.model_registry import load_model_registry
from tests.conftest import REPO, DocumentServer, fetch, refresh

PROJECTS = {p.source_id: p for p in ie.load_projects()}
MLENERGY, AIES = PROJECTS["mlenergy_leaderboard_v3"], PROJECTS["aienergyscore_leaderboard_v1"]


@pytest.fixture(scope="module")
def pinned_rows():
    rows, issues = ie.collect_measurements(list(PROJECTS.values()), {}, ie.REFERENCE_DIR,
                                           load_model_registry(REPO / "data").resolve)
    assert issues == []
    return rows


def test_the_pinned_snapshots_hold_every_task_and_printed_number():
    mlenergy, aies = ie.load_pinned(MLENERGY), ie.load_pinned(AIES)
    assert sorted(set(mlenergy.task)) == sorted(MLENERGY.tasks) and sorted(set(aies.task)) == sorted(AIES.tasks)
    assert set(mlenergy.hardware) == {"H100", "B200"} and set(mlenergy.field) == set(ie.MLENERGY_FIELDS)
    assert set(aies.field) == {"total_gpu_energy"} and set(aies.rating) <= {"1", "2", "3", "4", "5"}
    # rows read at the pinned commit (gpqa.json configurations[0]; text_generation.csv data row 2)
    first = mlenergy[(mlenergy.task == "gpqa") & (mlenergy.row == "0")].set_index("field").value_as_printed
    assert first.to_dict() == {"energy_per_token_joules": "1.3662634337367148",
                               "energy_per_request_joules": "9599.698100812033"}
    distilgpt2 = aies[(aies.task == "text_generation") & (aies.model_as_printed == "distilbert/distilgpt2")]
    assert distilgpt2[["value_as_printed", "rating", "model_class"]].values.tolist() == [["0.001313333", "5", "A"]]
    # every configuration keeps its per-token and per-response figures (LLM and multimodal tasks)
    llm = mlenergy[~mlenergy.task.isin(["text-to-image", "text-to-video"])]
    assert (llm.groupby(["task", "row"]).field.nunique() == 2).all()


def test_energy_per_query_follows_the_printed_unit(pinned_rows):
    by_unit = {}
    for row in pinned_rows:
        by_unit.setdefault(row["unit"], []).append(row)
    assert set(by_unit) == {"J per token", "J per response", "J per image", "J per video", "kWh per 1,000 queries"}
    assert all(r["energy_wh_per_query"] is None for r in by_unit["J per token"])
    joules_per_wh = Decimal(3600)  # 1 Wh = 3,600 J
    for unit in ("J per response", "J per image", "J per video"):
        for r in by_unit[unit]:
            expected = Decimal(r["value_as_printed"]) / joules_per_wh
            assert r["energy_wh_per_query"] == pytest.approx(float(expected), rel=1e-12)
    for r in by_unit["kWh per 1,000 queries"]:  # kWh -> Wh (x 1,000), then per one of 1,000 queries (/ 1,000)
        expected = Decimal(r["value_as_printed"]) * 1000 / 1000
        assert r["energy_wh_per_query"] == pytest.approx(float(expected), rel=1e-12)
    response = next(r for r in by_unit["J per response"] if r["locator"] == "gpqa.json configurations[0]."
                    "energy_per_request_joules")
    assert response["energy_wh_per_query"] == pytest.approx(2.6665828057811203)  # 9599.698100812033 / 3600


def test_every_row_is_an_attributed_third_party_measurement(pinned_rows):
    assert {r["disclosure_type"] for r in pinned_rows} == {"third-party"}
    ids = [r["measurement_id"] for r in pinned_rows]
    assert len(ids) == len(set(ids))
    for r in pinned_rows:
        project = PROJECTS[r["source_id"]]
        assert r["source_url"] == project.pinned_url.format(task=r["task"]) and "/blob/" in r["source_url"]
        assert r["snapshot_sha256"] is None and r["locator"].startswith(r["task"])


def test_a_registered_model_resolves_and_gets_one_headline(pinned_rows):
    llama = [r for r in pinned_rows if r["model_name_as_printed"] == "meta-llama/Llama-3.3-70B-Instruct"]
    assert llama and {r["model_id"] for r in llama} == {"meta-llama/Llama-3.3-70B-Instruct"}
    headlines = [r for r in pinned_rows if r["is_headline"]]
    assert len({r["model_id"] for r in headlines}) == len(headlines)
    assert all(r["model_id"] and r["energy_wh_per_query"] is not None for r in headlines)
    (llama_headline,) = [r for r in llama if r["is_headline"]]
    candidates = [r["energy_wh_per_query"] for r in llama if r["task"] == "lm-arena-chat" and r["hardware"] == "H100"
                  and r["energy_wh_per_query"] is not None]
    assert llama_headline["energy_wh_per_query"] == min(candidates)


def test_names_the_registry_does_not_know_are_counted_per_source_not_invented():
    rows = ie.measurement_rows(AIES, ie.parse_aienergyscore_task(
        "text_generation", b"model,total_gpu_energy,energy_score,class\nacme/unknown-7b,0.0123,3,A\n"
                           b"acme/unknown-7b,0.0124,3,B\nmeta-llama/Llama-3.3-70B-Instruct,0.5,1,C\n"),
        source_url="https://example.org/f.csv", snapshot_sha256=None,
        resolve=load_model_registry(REPO / "data").resolve)
    assert [r["model_id"] for r in rows] == [None, None, "meta-llama/Llama-3.3-70B-Instruct"]
    assert ie.unresolved_models(rows) == [{"kind": "model", "text_as_printed": "acme/unknown-7b",
                                           "source_id": AIES.source_id, "figure_count": 2}]


@pytest.mark.parametrize("body, problem", [
    (b"model,total_gpu_energy,energy_score,class,test date,gpu_energy_wh\nx/y,0.05,3,A,Oct 2025,50\n",
     "not the verified layout"),
    (b"model,total_gpu_energy,energy_score\nx/y,n/a,3\n", "no model or no number"),
    (b"\xff\xfe", "not an AI Energy Score task file"),
])
def test_an_unverified_ai_energy_score_layout_is_refused(body, problem):
    with pytest.raises(ie.InferenceFileError, match=problem):
        ie.parse_aienergyscore_task("text_generation", body)


def test_ai_energy_score_files_with_a_bom_and_crlf_parse():
    rows = ie.parse_aienergyscore_task("asr", "\ufeffmodel,total_gpu_energy,energy_score\r\na/b,0.5,2\r\n\r\n"
                                       .encode())
    assert [(r["model_as_printed"], r["value_as_printed"], r["rating"], r["row"]) for r in rows] == [
        ("a/b", "0.5", "2", 1)]


def test_mlenergy_numbers_are_kept_exactly_as_the_json_prints_them():
    body = json.dumps({"task": "gpqa", "configurations": [{
        "model_id": "acme/m", "nickname": "M", "gpu_model": "H100", "num_gpus": 2, "max_num_seqs": 64,
        "energy_per_token_joules": 0.10000000000000001, "energy_per_request_joules": 1e3}]}).encode()
    rows = ie.parse_mlenergy_task("gpqa", body)
    assert {r["field"]: r["value_as_printed"] for r in rows} == {"energy_per_token_joules": "0.1",
                                                                 "energy_per_request_joules": "1000.0"}
    with pytest.raises(ie.InferenceFileError, match="lacks"):
        ie.parse_mlenergy_task("gpqa", b'{"configurations": [{"model_id": "a/b", "gpu_model": "H100"}]}')


def _task_file(model_id: str, joules_per_response: list[str]) -> bytes:
    """A task file in the leaderboard's layout: one H100 configuration per printed energy per response."""
    configurations = [f'{{"model_id": "{model_id}", "nickname": "x", "gpu_model": "H100", "num_gpus": 1, '
                      f'"max_num_seqs": {8 * 2 ** i}, "energy_per_token_joules": 0.5, '
                      f'"energy_per_request_joules": {joules}}}' for i, joules in enumerate(joules_per_response)]
    return ('{"task": "gpqa", "configurations": [' + ", ".join(configurations) + "]}").encode()


def test_online_the_fetched_files_move_forward_and_bad_ones_leave_the_pinned_rows(data_copy, isolated_env,
                                                                                  monkeypatch):
    monkeypatch.delenv("AI_EMISSIONS_OFFLINE")
    gpqa = _task_file("meta-llama/Llama-3.3-70B-Instruct", ["7200", "3600"])
    v2_rows = "".join(f"org/model-{i},0.0{i}1,{i % 5 + 1},A,Oct 2025\n" for i in range(1, 10))
    files = {"/ml/gpqa.json": gpqa, "/ml/lm-arena-chat.json": _task_file("acme/not-registered", ["36", "18"]),
             "/aies/text_generation.csv": ("model,total_gpu_energy,energy_score,class,test date\n" + v2_rows).encode()}
    server = DocumentServer(files)
    path = data_copy / "sources" / "inference_energy.yaml"
    projects = yaml.safe_load(path.read_text())
    for project in projects:
        folder = "ml" if project["source_id"] == MLENERGY.source_id else "aies"
        project["fetch_url"] = f"{server.url}/{folder}/{{task}}" + (".json" if folder == "ml" else ".csv")
    path.write_text(yaml.safe_dump(projects, sort_keys=False))
    try:
        refresh()
    finally:
        server.close()
    env = isolated_env
    rows = fetch(env, "select batch_size, model_id, energy_wh_per_query, source_url, snapshot_sha256 from "
                      "inference_measurements where task = 'gpqa' and unit = 'J per response' order by 1",
                 as_dicts=True)
    served = {"model_id": "meta-llama/Llama-3.3-70B-Instruct", "source_url": f"{server.url}/ml/gpqa.json",
              "snapshot_sha256": hashlib.sha256(gpqa).hexdigest()}
    assert rows == [{"batch_size": 8, "energy_wh_per_query": 2.0, **served},  # 7200 J / 3600 J per Wh
                    {"batch_size": 16, "energy_wh_per_query": 1.0, **served}]
    ((n_pinned,),) = fetch(env, "select count(*) from inference_measurements where task = 'image-chat' "
                                "and snapshot_sha256 is null and source_url like 'https://github.com/%'")
    assert n_pinned > 0  # not served: the fetch failed and the pinned rows stand
    # counted, not invented: 2 configurations x (J per token, J per response)
    assert fetch(env, "select source_id, figure_count from unresolved_names where kind = 'model' "
                      "and text_as_printed = 'acme/not-registered'") == [(MLENERGY.source_id, 4)]
    (reason,) = [r for (r,) in fetch(env, "select reason from quarantine where source_id = "
                                          f"'{AIES.source_id}'")]
    assert "not the verified layout" in reason and "pinned snapshot was used" in reason
    assert fetch(env, "select count(*) from inference_measurements where task = 'text_generation' and "
                      "source_url like 'https://github.com/ebbalg/%'")[0][0] > 30
    missing = fetch(env, f"select count(*) from int_fetch_errors where source_id = '{AIES.source_id}'")[0][0]
    assert missing == len(AIES.tasks) - 1  # every task file the server did not have
    # models shows the headline: the lowest per-query figure of the model's first task on H100 (gpqa, batch 16)
    assert fetch(env, "select measured_inference_wh_per_query, measured_inference_project, measured_inference_task, "
                      "measured_inference_hardware from models where model_id = 'meta-llama/Llama-3.3-70B-Instruct'"
                 ) == [(1.0, "ML.ENERGY Leaderboard", "gpqa", "H100")]
    # every pinned row, except the two ML.ENERGY tasks served (2 files x 2 configurations x 2 figures)
    pinned = sum(1 for name in (MLENERGY.pinned, AIES.pinned)
                 for line in (ie.REFERENCE_DIR / name).read_text().splitlines()[1:]
                 if not line.startswith(("gpqa,", "lm-arena-chat,")))
    assert fetch(env, "select count(*) from inference_measurements") == [(pinned + 8,)]
