import pandas as pd
from pandera.typing import Series

from schemas._fields import BASES, BOUNDARIES, DISCLOSURE_TYPES, ORIGINS, ContractModel, col

REGISTRY_ORIGINS = ["curated", "hub card", "epoch"]


class Models(ContractModel):
    """One row per model: the registry joined with its headline figures. Answers "how much did model X emit,
    says who, under which boundary" with one select; summing across models double-counts aggregates and
    fine-tunes that inherit their base model's training (sum training_runs.is_headline instead)."""

    model_id: Series[str] = col("Canonical model id: the Hub repo id where one exists, else developer/model",
                                unique=True)
    model_name: Series[str] = col("Model name")
    organization: Series[str] = col("Developer of the model", nullable=True)
    family_id: Series[str] = col("Family the model belongs to", nullable=True)
    base_model_id: Series[str] = col("The model this one was fine-tuned, quantized or instruction-tuned from",
                                     nullable=True)
    is_aggregate: Series[bool] = col("A family or group of runs rather than one trained model")
    member_model_ids: Series[str] = col("For aggregates: the member models, comma-separated", nullable=True)
    parameters: Series[str] = col("Parameter count as the developer states it", nullable=True)
    registry_origin: Series[str] = col("Where the model's entry comes from: the curated registry "
                                       "(data/reference/models.yaml), a Hub card, or Epoch AI's table",
                                       isin=REGISTRY_ORIGINS)
    training_tco2e: Series[float] = col("Headline pretraining emissions (the preferred pretraining run)",
                                        unit="tCO2e", nullable=True, ge=0)
    training_basis: Series[str] = col("Accounting basis of training_tco2e", nullable=True, isin=BASES)
    training_boundary: Series[str] = col("What training_tco2e covers", nullable=True, isin=BOUNDARIES)
    training_disclosure_type: Series[str] = col("Who published training_tco2e", nullable=True,
                                                isin=DISCLOSURE_TYPES)
    training_origin: Series[str] = col("Whether training_tco2e is disclosed or estimated", nullable=True,
                                       isin=ORIGINS)
    training_source_id: Series[str] = col("Source of training_tco2e (see sources)", nullable=True)
    training_source_url: Series[str] = col("URL of that source", nullable=True, str_matches=r"^https?://")
    training_run_id: Series[str] = col("The run training_tco2e comes from (see training_runs)", nullable=True)
    training_model_id: Series[str] = col("Whose pretraining it is: this model, or its base model when it has "
                                         "no pretraining run of its own", nullable=True)
    training_low_tco2e: Series[float] = col("Low end of the estimate's central 80 % interval (estimated training only)",
                                            unit="tCO2e", nullable=True, ge=0)
    training_high_tco2e: Series[float] = col("High end of the estimate's central 80 % interval (estimated training "
                                             "only)",
                                             unit="tCO2e", nullable=True, ge=0)
    training_headline_reason: Series[str] = col("Why that run was chosen", nullable=True)
    lifecycle_tco2e: Series[float] = col("Published figure including embodied hardware or use (life cycle)",
                                         unit="tCO2e", nullable=True, ge=0)
    lifecycle_boundary: Series[str] = col("What lifecycle_tco2e covers", nullable=True, isin=BOUNDARIES)
    lifecycle_source_id: Series[str] = col("Source of lifecycle_tco2e", nullable=True)
    development_tco2e: Series[float] = col("Published development emissions (experiments, ablations; see the "
                                           "run's boundary for whether final runs are included)", unit="tCO2e",
                                           nullable=True, ge=0)
    fine_tuning_tco2e: Series[float] = col("Fine-tuning emissions of the preferred run", unit="tCO2e",
                                           nullable=True, ge=0)
    fine_tuning_origin: Series[str] = col("Whether fine_tuning_tco2e is disclosed or estimated", nullable=True,
                                          isin=ORIGINS)
    total_tco2e: Series[float] = col("Published figure covering several stages (see total_boundary)",
                                     unit="tCO2e", nullable=True, ge=0)
    total_boundary: Series[str] = col("What total_tco2e covers", nullable=True, isin=BOUNDARIES)
    inference_wh_per_query: Series[float] = col("Published inference energy per query, where the functional "
                                                "unit is one query or 1,000 queries", unit="Wh", nullable=True,
                                                ge=0)
    inference_functional_unit: Series[str] = col("The functional unit as printed", nullable=True)
    inference_source_id: Series[str] = col("Source of inference_wh_per_query", nullable=True)
    measured_inference_wh_per_query: Series[float] = col(
        "GPU energy per query measured by a public benchmark (third-party; AI Energy Score, ML.ENERGY), the "
        "model's headline row of inference_measurements", unit="Wh", nullable=True, ge=0)
    measured_inference_project: Series[str] = col("Benchmark that measured measured_inference_wh_per_query",
                                                  nullable=True)
    measured_inference_task: Series[str] = col("Benchmark task of that measurement", nullable=True)
    measured_inference_hardware: Series[str] = col("GPU of that measurement", nullable=True)
    measured_inference_measurement_id: Series[str] = col("That measurement in inference_measurements",
                                                         nullable=True)
    water_l: Series[float] = col("Published water consumption of training (else of the total)", unit="L",
                                 nullable=True, ge=0)
    water_stage: Series[str] = col("Stage water_l covers", nullable=True)
    epoch_name: Series[str] = col("The model's name in Epoch AI's notable models table", nullable=True)
    training_year: Series[pd.Int64Dtype] = col("Year of training where stated, else of release", nullable=True,
                                               ge=1990, le=2100)
    release_year: Series[pd.Int64Dtype] = col("Year of release", nullable=True, ge=1990, le=2100)
    training_location: Series[str] = col("Documented training location (ISO country, subdivision or "
                                         "provider:region; model registry)", nullable=True)
    n_runs: Series[pd.Int64Dtype] = col("Runs of this model in training_runs", ge=0)
    n_sources: Series[pd.Int64Dtype] = col("Sources reporting on this model", ge=0)
    has_conflict: Series[bool] = col("Some sources disagree on one of its runs (see conflicts)")
    citation: Series[str] = col("A public document naming the model", nullable=True)
