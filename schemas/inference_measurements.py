import pandas as pd
from pandera.typing import Series

from schemas._fields import SOURCE_ID_PATTERN, ContractModel, col

PROJECTS = ["AI Energy Score", "ML.ENERGY Leaderboard"]


class InferenceMeasurements(ContractModel):
    """One row per measured inference energy figure published by a public benchmark (AI Energy Score, ML.ENERGY
    Leaderboard): the model, task, hardware and configuration measured, the figure as printed and, where its
    unit allows, the energy of one query in Wh. Measurements by others (third-party), not disclosures by the
    model's developer."""

    measurement_id: Series[str] = col("Stable id of the figure (source, version, locator)", unique=True)
    model_id: Series[str] = col("Canonical model id from the model registry; null when the printed name does "
                                "not resolve (counted in unresolved_names)", nullable=True)
    model_name_as_printed: Series[str] = col("Model name exactly as the benchmark prints it (usually a Hub repo id)")
    project: Series[str] = col("Benchmark that measured the figure", isin=PROJECTS)
    version: Series[str] = col("Leaderboard version the figure belongs to")
    task: Series[str] = col("Benchmark task (its own name: text_generation, gpqa, text-to-image...)")
    hardware: Series[str] = col("GPU model the measurement ran on, as the benchmark names it")
    gpu_count: Series[pd.Int64Dtype] = col("Number of GPUs serving the model, when printed", unit="GPUs",
                                           nullable=True, ge=1)
    batch_size: Series[pd.Int64Dtype] = col("Maximum concurrent requests (LLMs) or batch size (diffusion), when "
                                            "printed", unit="requests", nullable=True, ge=1)
    model_class: Series[str] = col("AI Energy Score text-generation class (A: consumer GPU, B: one cloud GPU, "
                                   "C: several cloud GPUs), when printed", nullable=True)
    rating: Series[pd.Int64Dtype] = col("AI Energy Score star rating within its task (and class): 5 most "
                                        "efficient, 1 least", unit="stars", nullable=True, ge=1, le=5)
    value: Series[float] = col("The figure as a number, in `unit`", ge=0)
    unit: Series[str] = col("Unit of `value` and what it is per: J per token, J per response, J per image, "
                            "J per video, kWh per 1,000 queries")
    value_as_printed: Series[str] = col("The number exactly as the result file prints it")
    unit_as_printed: Series[str] = col("Unit as the result file prints it; null when the file prints a bare number "
                                       "(the unit then comes from the project's documentation, see the README)",
                                       nullable=True)
    energy_wh_per_query: Series[float] = col("GPU energy of one query (one response, image or video; a "
                                             "1,000-query figure divided by 1,000) in Wh; null for per-token "
                                             "figures", unit="Wh", nullable=True, ge=0)
    is_headline: Series[bool] = col("The one per-query figure per model that `models` shows: AI Energy Score "
                                    "before ML.ENERGY, text tasks first, H100 first, then the lowest figure")
    disclosure_type: Series[str] = col("third-party: measured by others than the model's developer",
                                       isin=["third-party"])
    source_id: Series[str] = col("Registry id of the benchmark's result files", str_matches=SOURCE_ID_PATTERN)
    source_url: Series[str] = col("URL of the result file the figure was read from (commit-pinned for the "
                                  "offline snapshot)", str_matches=r"^https?://")
    locator: Series[str] = col("File, row or configuration index, and column or key of the figure")
    snapshot_sha256: Series[str] = col("sha256 of the fetched result file; null when the pinned copy was used",
                                       nullable=True, str_matches=r"^[0-9a-f]{64}$")
