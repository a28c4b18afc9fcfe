"""The model registry: which models the dataset knows, under one canonical id each.

`data/reference/models.yaml` lists every model (and every aggregate: a family or a group of runs) that a
curated source reports on, with its organization, family, base model, training location where documented,
the names other sources use for it (Epoch AI's name, paper names, other ids) and a public citation per row.
It also lists the developers, with their country where it is one country, for the estimator's location rule.

Every figure's model id resolves through the registry. A curated model id that does not resolve is an error
of our data (the refresh fails naming the file); a name from an outside table that does not resolve is
counted in `unresolved_names` and never becomes a model of its own by accident.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Annotated

import yaml
from pydantic import BaseModel, ConfigDict, Field, StringConstraints, ValidationError, model_validator

MODELS_FILE = Path("reference") / "models.yaml"

ModelId = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.\-]*/[A-Za-z0-9_.\-]+$",
                                           max_length=200)]
Text = Annotated[str, StringConstraints(min_length=1, strip_whitespace=True)]
# a public reference a reader can follow: a URL (commit-pinned for repository files) or a DOI
Citation = Annotated[str, StringConstraints(pattern=r"^(https?://|doi:10\.)\S+.*$")]
CountryCode = Annotated[str, StringConstraints(pattern=r"^[A-Z]{2}$")]
# ISO country (optionally with subdivision, US-TX) or a cloud region written provider:region
Location = Annotated[str, StringConstraints(pattern=r"^([A-Z]{2}(-[A-Z0-9]{1,3})?|[a-z]+:[a-z0-9\-]+)$")]


class RegistryError(ValueError):
    """An invalid models.yaml; the message names the entry and the field."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Organization(_Strict):
    name: Text
    aliases: list[Text] = []
    country: CountryCode | None = None  # only when the organization is based in one country
    citation: Citation | None = None  # where the country is stated (required with a country)

    @model_validator(mode="after")
    def _country_cited(self):
        if self.country and not self.citation:
            raise ValueError("a country needs a citation")
        return self


class Model(_Strict):
    model_id: ModelId
    model_name: Text
    organization: Text
    family_id: Text | None = None
    base_model_id: ModelId | None = None  # fine-tunes, quantized and instruct variants point to their base
    is_aggregate: bool = False  # a family or a group of runs, not one trained model
    members: list[ModelId] = []  # for aggregates: the registered models whose runs it adds up
    parameters: Text | None = None  # as stated by the developer ("70B", "1.1B")
    release_year: int | None = Field(default=None, ge=1990, le=2100)
    training_year: int | None = Field(default=None, ge=1990, le=2100)  # only where a source states it
    training_location: Location | None = None
    training_location_citation: Text | None = None  # public reference and locator for the location
    aliases: list[Text] = []  # names other sources print for this model
    epoch_name: Text | None = None  # the model's name in Epoch AI's notable models table
    citation: Citation  # a public document that names the model (its card, paper or report)

    @model_validator(mode="after")
    def _consistent(self):
        if self.members and not self.is_aggregate:
            raise ValueError("members are only for aggregates (is_aggregate: true)")
        if self.training_location and not self.training_location_citation:
            raise ValueError("a training location needs training_location_citation")
        if self.base_model_id == self.model_id:
            raise ValueError("a model cannot be its own base")
        return self


class RegistryFile(_Strict):
    organizations: list[Organization]
    models: list[Model]


def name_key(name: str | None) -> str:
    """How names are compared: case, spaces and punctuation do not matter ('Llama 2-70B' = 'llama-2 70b')."""
    return re.sub(r"[^a-z0-9]", "", str(name or "").lower())


class ModelRegistry:
    """The validated registry with look-ups by id, alias and organization."""

    def __init__(self, models: list[Model], organizations: list[Organization]):
        self.models = {m.model_id: m for m in models}
        self.organizations = organizations
        self._by_key: dict[str, str] = {}
        self._org_by_key: dict[str, Organization] = {}
        problems = []
        for model in models:
            for name in [model.model_id, model.model_name, *model.aliases, model.epoch_name]:
                if not name:
                    continue
                key = name_key(name)
                owner = self._by_key.setdefault(key, model.model_id)
                if owner != model.model_id:
                    problems.append(f"name {name!r} of {model.model_id} is also a name of {owner}")
            for other in [model.base_model_id, *model.members]:
                if other and other not in self.models:
                    problems.append(f"{model.model_id} refers to {other}, which is not a registered model")
        for org in organizations:
            for name in [org.name, *org.aliases]:
                owner = self._org_by_key.setdefault(name_key(name), org)
                if owner is not org:
                    problems.append(f"organization name {name!r} is given to {owner.name} and {org.name}")
        unknown_orgs = sorted({m.organization for m in models if name_key(m.organization) not in self._org_by_key})
        problems += [f"organization {o!r} is not in the organizations list" for o in unknown_orgs]
        if problems:
            raise RegistryError("models.yaml: " + "; ".join(problems))

    def resolve(self, name_or_id: str | None) -> str | None:
        """The canonical model id for an id or a name any source prints, or None."""
        if not name_or_id:
            return None
        if name_or_id in self.models:
            return name_or_id
        return self._by_key.get(name_key(name_or_id))

    def organization(self, name: str | None) -> Organization | None:
        return self._org_by_key.get(name_key(name)) if name else None

    def organization_alias_rows(self) -> list[dict]:
        """Every spelling of every developer, keyed as `name_key` compares them (table `organization_aliases`)."""
        return [{"alias_key": key, "organization": org.name, "country": org.country}
                for key, org in sorted(self._org_by_key.items())]

    def rows(self) -> list[dict]:
        """One row per model for the warehouse table `model_registry`."""
        return [{
            "model_id": m.model_id, "model_name": m.model_name,
            "organization": self.organization(m.organization).name, "family_id": m.family_id,
            "base_model_id": m.base_model_id, "is_aggregate": m.is_aggregate,
            "member_model_ids": list(m.members), "parameters": m.parameters, "release_year": m.release_year,
            "training_year": m.training_year, "training_location": m.training_location,
            "training_location_citation": m.training_location_citation,
            "organization_country": self.organization(m.organization).country,
            "aliases": list(m.aliases), "epoch_name": m.epoch_name, "citation": m.citation,
            "registry_origin": "curated",
        } for m in self.models.values()]


ALIAS_COLUMNS = {"alias_key": "VARCHAR", "organization": "VARCHAR", "country": "VARCHAR"}

REGISTRY_COLUMNS = {
    "model_id": "VARCHAR", "model_name": "VARCHAR", "organization": "VARCHAR", "family_id": "VARCHAR",
    "base_model_id": "VARCHAR", "is_aggregate": "BOOLEAN", "member_model_ids": "VARCHAR[]",
    "parameters": "VARCHAR", "release_year": "BIGINT", "training_year": "BIGINT", "training_location": "VARCHAR",
    "training_location_citation": "VARCHAR", "organization_country": "VARCHAR", "aliases": "VARCHAR[]",
    "epoch_name": "VARCHAR", "citation": "VARCHAR", "registry_origin": "VARCHAR",
}


def load_model_registry(data_dir: Path) -> ModelRegistry:
    """Read and validate `<data_dir>/reference/models.yaml`; errors name the entry and field."""
    path = Path(data_dir) / MODELS_FILE
    try:
        raw = yaml.load(path.read_text(encoding="utf-8"), Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))
    except (OSError, yaml.YAMLError) as exc:
        raise RegistryError(f"{path}: cannot be read ({exc})") from exc
    try:
        parsed = RegistryFile.model_validate(raw)
    except ValidationError as exc:
        where = "; ".join(f"{_where(raw, e['loc'])}: {e['msg']}" for e in exc.errors()[:10])
        raise RegistryError(f"{path}: {where}") from None
    duplicates = sorted({m.model_id for m in parsed.models if sum(x.model_id == m.model_id for x in parsed.models) > 1})
    if duplicates:
        raise RegistryError(f"{path}: model ids listed twice: {', '.join(duplicates)}")
    return ModelRegistry(parsed.models, parsed.organizations)


def _where(raw, loc) -> str:
    """'models[3] (meta-llama/Llama-3.1-8B).citation' from a pydantic error location."""
    parts, node = [], raw
    for step in loc:
        if isinstance(step, int) and isinstance(node, list) and step < len(node):
            node = node[step]
            label = node.get("model_id") or node.get("name") if isinstance(node, dict) else None
            parts[-1] += f"[{step}]" + (f" ({label})" if label else "")
        else:
            parts.append(str(step))
            node = node.get(step) if isinstance(node, dict) else None
    return ".".join(parts)
