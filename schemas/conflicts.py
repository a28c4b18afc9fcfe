from pandera.typing import Series

from schemas._fields import BASES, STAGES, ContractModel, col

_SIDES = {"a": "the first figure (first-party before restatement)", "b": "the second figure"}


class Conflicts(ContractModel):
    """One row per disagreement between two current figures for the same model, stage and metric."""

    conflict_id: Series[str] = col("Stable id of the pair of figures", unique=True)
    conflict_kind: Series[str] = col("Who disagrees", isin=["first-party vs restatement",
                                                             "between first-party figures",
                                                             "between restatements"])
    ratio: Series[float] = col("Larger value divided by the smaller", unit="ratio", nullable=True, ge=1)
    model_id: Series[str] = col("Model id")
    model_name: Series[str] = col("Model name as the first source writes it")
    stage: Series[str] = col("Lifecycle stage", isin=STAGES)
    metric: Series[str] = col("What both figures measure")
    unit: Series[str] = col("Canonical unit of value_a and value_b")
    functional_unit: Series[str] = col("For per-use figures, what one value is per", nullable=True)
    component: Series[str] = col("Part of the footprint both figures cover", nullable=True)
    disclosure_id_a: Series[str] = col(f"Disclosure id of {_SIDES['a']}")
    value_a: Series[float] = col(f"Normalized value of {_SIDES['a']}", ge=0)
    basis_a: Series[str] = col(f"Basis of {_SIDES['a']}", nullable=True, isin=BASES)
    value_as_printed_a: Series[str] = col(f"Value as printed, {_SIDES['a']}")
    unit_as_printed_a: Series[str] = col(f"Unit as printed, {_SIDES['a']}", nullable=True)
    locator_a: Series[str] = col(f"Locator of {_SIDES['a']}")
    is_restatement_a: Series[bool] = col(f"Whether {_SIDES['a']} is a restatement")
    source_id_a: Series[str] = col(f"Source of {_SIDES['a']}")
    source_url_a: Series[str] = col(f"URL of the source of {_SIDES['a']}")
    disclosure_id_b: Series[str] = col(f"Disclosure id of {_SIDES['b']}")
    value_b: Series[float] = col(f"Normalized value of {_SIDES['b']}", ge=0)
    basis_b: Series[str] = col(f"Basis of {_SIDES['b']}", nullable=True, isin=BASES)
    value_as_printed_b: Series[str] = col(f"Value as printed, {_SIDES['b']}")
    unit_as_printed_b: Series[str] = col(f"Unit as printed, {_SIDES['b']}", nullable=True)
    locator_b: Series[str] = col(f"Locator of {_SIDES['b']}")
    is_restatement_b: Series[bool] = col(f"Whether {_SIDES['b']} is a restatement")
    source_id_b: Series[str] = col(f"Source of {_SIDES['b']}")
    source_url_b: Series[str] = col(f"URL of the source of {_SIDES['b']}")
