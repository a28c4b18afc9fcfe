"""Table contracts: one pandera DataFrameModel per published table (column names, types, units, docs)."""

from schemas.disclosures import Disclosures
from schemas.quarantine import Quarantine
from schemas.sources import Sources
from schemas.training_runs import TrainingRuns

# table name (= asset key = DuckDB table = export file name) -> contract
CONTRACTS = {
    "sources": Sources,
    "disclosures": Disclosures,
    "training_runs": TrainingRuns,
    "quarantine": Quarantine,
}
