"""`ai-emissions parse-card` and `ai-emissions estimate` as a user runs them."""

from __future__ import annotations

import csv
import json
import math
import os
import subprocess
import sys

from click.testing import CliRunner

from pipelines.cli import main

DESIGN_KEYS = {"path", "emissions_kg", "source", "training_type", "hardware", "location", "hours", "figures"}


def test_parse_card_prints_one_json_object_per_card_with_the_labelled_emissions(corpus, tmp_path):
    labels = {row["file"]: row for row in csv.DictReader((corpus / "model_cards" / "labels.csv").open())}
    labelled = sorted(f for f, row in labels.items() if row["emissions_kg"])
    plain = tmp_path / "no_emissions.md"
    plain.write_text("---\nlicense: mit\n---\n# A model\n\nTrained on a laptop. Cars emit 120 g/km.\n")
    paths = [str(corpus / "model_cards" / f) for f in labelled] + [str(plain)]
    result = CliRunner().invoke(main, ["parse-card", *paths])
    assert result.exit_code == 0, result.output
    objects = [json.loads(line) for line in result.output.splitlines()]
    assert len(objects) == len(paths) and all(DESIGN_KEYS <= set(o) for o in objects)
    hits = sum(1 for f, o in zip(labelled, objects, strict=False)
               if o["emissions_kg"] is not None
               and math.isclose(o["emissions_kg"], float(labels[f]["emissions_kg"]), rel_tol=0.01))
    assert hits / len(labelled) >= 0.98
    assert objects[-1]["emissions_kg"] is None and objects[-1]["figures"] == []


def test_estimate_writes_the_design_columns_and_explains_unknown_inputs(tmp_path):
    source = tmp_path / "runs.csv"
    source.write_text("model_id,hardware,chip_count,training_days,location,year,energy_kwh\n"
                      "a/one,NVIDIA A100 80GB,64,10,FR,2023,\n"
                      "a/two,Quantum Toaster,8,2,Atlantis,2022,\n"
                      "a/three,,,,aws:us-east-1,2023,1000\n")
    out = tmp_path / "estimates.csv"
    result = CliRunner().invoke(main, ["estimate", str(source), "-o", str(out)])
    assert result.exit_code == 0, result.output
    rows = list(csv.DictReader(out.open()))
    for column in ("energy_kwh", "operational_tco2e", "embodied_tco2e", "total_tco2e", "low_tco2e", "high_tco2e",
                   "method"):
        assert column in rows[0]
    one, two, three = rows
    # 64 chips x 10 days: the energy follows from hours x power x PUE, and the total lies in its bounds
    assert float(one["chip_hours_used"]) == 64 * 10 * 24
    assert float(one["low_tco2e"]) <= float(one["total_tco2e"]) <= float(one["high_tco2e"])
    assert "Quantum Toaster" in result.output and "Atlantis" in result.output
    assert two["total_tco2e"] == ""
    # a given energy overrides every default
    assert float(three["energy_kwh"]) == 1000 and three["energy_kwh_origin"] == "disclosed"


def test_the_installed_command_keeps_exit_codes_and_output(tmp_path):
    """`entry` (the console script) leaves without the interpreter's teardown: what was printed still arrives,
    and the exit code is the command's."""
    env = {**os.environ, "AI_EMISSIONS_HOME": str(tmp_path / "home"), "PYTHONWARNINGS": "ignore"}

    def run(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, "-m", "pipelines.cli", *args], capture_output=True, text=True,
                              env=env, cwd=tmp_path, timeout=120)

    shown = run("--help")
    assert shown.returncode == 0 and "refresh" in shown.stdout
    unbuilt = run("query", "select 1")
    assert unbuilt.returncode == 1 and "ai-emissions refresh" in unbuilt.stderr, unbuilt.stderr
    assert run("no-such-command").returncode == 2
    estimated = tmp_path / "out.csv"
    (tmp_path / "in.csv").write_text("model_id,hardware,chip_count,training_days,location,year\n"
                                     "a/one,NVIDIA A100 80GB,64,10,FR,2023\n")
    done = run("estimate", str(tmp_path / "in.csv"), "-o", str(estimated))
    assert done.returncode == 0, done.stderr
    assert len(estimated.read_text().splitlines()) == 2
