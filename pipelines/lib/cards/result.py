"""What parsing one model card yields: a headline, every figure with its locator, conflicts, quarantine."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field


@dataclass
class Figure:
    """One disclosed number, exactly as printed, normalized, and located in the card."""

    metric: str  # a key of pipelines.lib.units.CANONICAL_UNIT
    value_as_printed: str
    unit_as_printed: str | None
    value: float  # in `unit`
    unit: str  # the metric's canonical unit
    locator: str  # YAML key, "Section > Field", or "table N in section 'S', row 'R', column 'C'"
    origin: str  # front_matter | field | prose | table
    stage: str = "total"  # pretraining | fine-tuning | development | inference | total
    stage_source: str = "default"  # where the stage came from: stated | context | card | default
    basis: str = "unspecified"  # location-based | market-based | unspecified
    model_name: str | None = None  # a model the card names for this figure; None: the card's own model
    variant: str | None = None  # a row/column label that is not a model (configuration, checkpoint, part)
    per: str | None = None  # "sample" for per-sample inference figures; None for amounts
    qualifier: str | None = None  # approximately | less_than | more_than
    is_total: bool = False  # a table's Total row (a sum over the models listed)
    is_headline: bool = False
    section: str = ""  # heading the figure sits under
    order: int = 0  # position in the card

    def to_json(self) -> dict:
        data = asdict(self)
        data.pop("order")
        data.pop("section")
        return data


@dataclass
class QuarantineItem:
    locator: str
    item: str
    reason: str

    def to_json(self) -> dict:
        return asdict(self)


@dataclass
class CardResult:
    path: str | None
    emissions_kg: float | None = None
    source: str | None = None
    training_type: str | None = None
    stage: str | None = None  # stage of the headline figure
    hardware: str | None = None
    location: str | None = None
    cloud_provider: str | None = None
    hours: str | float | int | None = None
    model_name: str | None = None  # the card's model as the card names it
    headline_locator: str | None = None
    figures: list[Figure] = field(default_factory=list)
    conflicts: list[str] = field(default_factory=list)
    quarantine: list[QuarantineItem] = field(default_factory=list)
    bytes_total: int = 0
    bytes_parsed: int = 0

    @property
    def headline(self) -> Figure | None:
        return next((f for f in self.figures if f.is_headline), None)

    def to_json(self) -> dict:
        return {
            "path": self.path,
            "emissions_kg": self.emissions_kg,
            "source": self.source,
            "training_type": self.training_type,
            "stage": self.stage,
            "hardware": self.hardware,
            "location": self.location,
            "cloud_provider": self.cloud_provider,
            "hours": self.hours,
            "model_name": self.model_name,
            "headline_locator": self.headline_locator,
            "figures": [f.to_json() for f in self.figures],
            "conflicts": list(self.conflicts),
            "quarantine": [q.to_json() for q in self.quarantine],
            "bytes_total": self.bytes_total,
            "bytes_parsed": self.bytes_parsed,
        }
