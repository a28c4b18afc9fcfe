"""Reference data for the estimator: loading (validated, cited), and hardware / location resolution.

The tables live in `data/reference/` (see its README.md for sources and licenses) and are validated
with the pandera models in `schemas/reference.py` when loaded. `resolve_hardware` and
`resolve_location` map the spellings seen in model cards and papers to canonical ids; an unknown
spelling resolves to None and is counted (`unresolved_counts`), never guessed.
"""

from __future__ import annotations

import functools
import importlib.metadata
import importlib.resources
import json
import re
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd
import pandera.errors
import pycountry
import yaml

from schemas.reference import REFERENCE_CONTRACTS

REFERENCE_DIR = Path(__file__).resolve().parents[2] / "data" / "reference"
SPREADS_FILE = "estimate_spreads.yaml"
CLOUD_PROVIDERS = ("aws", "gcp", "azure")

UNRESOLVED_HARDWARE: Counter[str] = Counter()
UNRESOLVED_LOCATIONS: Counter[str] = Counter()


class ReferenceDataError(ValueError):
    """A reference table that is missing or invalid; the message names the file and the problem."""


@dataclass(frozen=True)
class Reference:
    accelerators: pd.DataFrame  # indexed by hardware_id
    hardware_keys: dict[str, str]  # normalized spelling -> hardware_id
    power_measurements: pd.DataFrame
    pue_defaults: pd.DataFrame  # indexed by facility
    grid_intensity: pd.DataFrame
    cloud_regions: pd.DataFrame  # indexed by region_id
    datacenters: pd.DataFrame  # named sites -> location_id
    parameters: dict[str, float]
    parameter_sources: dict[str, str]
    # spreads of the estimator's inputs (estimate_spreads.yaml: log sigmas, some calibrated on the backtest)
    spreads: dict[str, float] = field(default_factory=dict)
    # answers of the pure lookups below, per spelling: a refresh resolves the same few texts thousands of times
    memo: dict = field(default_factory=dict, compare=False, repr=False)

    @property
    def power_factor_range(self) -> tuple[float, float]:
        """Measured average power / TDP across the measured runs, widened to include 1 (TDP itself)."""
        ratios = self.power_measurements.measured_w / self.power_measurements.tdp_w
        return min(1.0, float(ratios.min())), max(1.0, float(ratios.max()))


def read_table(name: str, directory: Path = REFERENCE_DIR) -> pd.DataFrame:
    """Read `data/reference/<name>.csv` and validate it with its contract."""
    path = directory / f"{name}.csv"
    if not path.exists():
        raise ReferenceDataError(f"{path}: reference table missing")
    # only empty cells are missing: "NA" is Namibia
    frame = pd.read_csv(path, dtype_backend="numpy_nullable", keep_default_na=False, na_values=[""])
    try:
        return REFERENCE_CONTRACTS[name].validate(frame, lazy=True)
    except (pandera.errors.SchemaError, pandera.errors.SchemaErrors) as exc:
        raise ReferenceDataError(f"{path}: invalid reference table: {exc}") from exc


@functools.lru_cache(maxsize=4)
def load_reference(directory: Path = REFERENCE_DIR) -> Reference:
    accelerators = read_table("accelerators", directory)
    aliases = read_table("hardware_aliases", directory)
    unknown = sorted(set(aliases.hardware_id) - set(accelerators.hardware_id))
    if unknown:
        raise ReferenceDataError(f"{directory / 'hardware_aliases.csv'}: unknown hardware_id {unknown}")
    keys: dict[str, str] = {}
    spellings = [(a, h) for a, h in zip(aliases.alias, aliases.hardware_id, strict=True)]
    spellings += [(h, h) for h in accelerators.hardware_id]
    spellings += [(n, h) for n, h in zip(accelerators.epoch_hardware_name, accelerators.hardware_id, strict=True)
                  if isinstance(n, str)]
    for spelling, hardware_id in spellings:
        key = hardware_key(spelling)
        if keys.get(key, hardware_id) != hardware_id:
            raise ReferenceDataError(f"hardware spelling {spelling!r} maps to both {keys[key]} and {hardware_id}")
        keys[key] = hardware_id
    measurements = read_table("power_measurements", directory)
    parameters = read_table("lifecycle_parameters", directory)
    regions = read_table("cloud_regions", directory)
    return Reference(
        accelerators=accelerators.set_index("hardware_id"),
        hardware_keys=keys,
        power_measurements=measurements,
        pue_defaults=read_table("pue_defaults", directory).set_index("facility"),
        grid_intensity=read_table("grid_intensity", directory),
        cloud_regions=regions.set_index("region_id"),
        datacenters=read_table("datacenters", directory),
        parameters=dict(zip(parameters.parameter, parameters.value.astype(float), strict=True)),
        parameter_sources={p: f"{s} ({loc})" for p, s, loc in zip(parameters.parameter, parameters.source,
                                                                      parameters.locator, strict=True)},
        # a directory holding only the tables (a test's copy) uses the method's committed spreads
        spreads=load_spreads(next((d / SPREADS_FILE for d in (directory, REFERENCE_DIR) if (d / SPREADS_FILE).exists()),
                                  directory / SPREADS_FILE)),
    )


def load_spreads(path: Path) -> dict[str, float]:
    """The numbers of estimate_spreads.yaml (its `calibration` block says how they were derived)."""
    if not path.exists():
        raise ReferenceDataError(f"{path}: estimator spreads missing")
    loaded = yaml.safe_load(path.read_text()) or {}
    numbers = {k: v for k, v in loaded.items() if k != "calibration"}
    if not numbers or not all(isinstance(v, int | float) and not isinstance(v, bool) and v >= 0
                              for v in numbers.values()):
        raise ReferenceDataError(f"{path}: expected non-negative numbers, got {numbers!r}")
    return {k: float(v) for k, v in numbers.items()}


# ---------------------------------------------------------------------------------------------- hardware

_HW_NOISE = re.compile(
    r"\b(nvidia|tesla|google|cloud|amd|radeon|instinct|intel|habana|huawei|amazon|geforce|hbm3e?|hbm2e?|"
    r"tensor\s*core|for\s+training|gpus?|chips?|accelerators?|modules?|kaggle)\b")


def hardware_key(text: str) -> str:
    """Reduce a hardware spelling to a comparison key: '8 x A100 80GB' -> 'a10080gb', 'TPU v3-8' -> 'tpuv3'."""
    s = str(text).lower().replace("\u00d7", "x").replace("\u2011", "-").replace("\u2013", "-")
    s = re.sub(r"\([^)]*\)", " ", s)  # '(TDP of 700W)', '(Kaggle T100)'
    s = _HW_NOISE.sub(" ", s)
    s = re.sub(r"^\s*\d+\s*(x\s*)?(?=[a-z])", " ", s)  # leading count: '8 x A100', '1024 V100'
    s = re.sub(r"(?:\s+x\s*\d+|(?<=\d)x\d+)\s*$", " ", s)  # trailing count: 'T4 x 2', 'A100x4'
    s = re.sub(r"(tpu\s*v\d[a-z]?)\s*-\s*\d+\b", r"\1", s)  # TPU pod slices: 'TPU v3-256'
    return re.sub(r"[^a-z0-9]", "", s)


_LEADING_COUNT = re.compile(r"^\s*(\d+)\s*(?:[x\u00d7]\s*|\s(?=[a-z]))", re.IGNORECASE)  # '8 x A100', '384 A100'
_TRAILING_COUNT = re.compile(r"[a-z]\w*\d\w*\s*[x\u00d7]\s*(\d+)\b", re.IGNORECASE)  # 'P100x8', 'T4 x 2'


def hardware_count(text: str | None) -> int | None:
    """Number of chips a hardware spelling states ('8 x A100 80GB' -> 8, 'P100x8' -> 8, 'V100' -> None).

    TPU slice names ('TPU v3-8') count cores of a pod slice, not chips, and give None.
    """
    if text is None or (isinstance(text, float) and pd.isna(text)):
        return None
    s = re.sub(r"\([^)]*\)", " ", str(text))
    found = _LEADING_COUNT.search(s) or _TRAILING_COUNT.search(s)
    count = int(found.group(1)) if found else 0
    return count or None


def resolve_hardware(text: str | None, reference: Reference | None = None) -> str | None:
    """Canonical hardware_id for a spelling such as 'Tesla V100-SXM2-16GB' or 'TPUv4'; None when unknown."""
    if text is None or (isinstance(text, float) and pd.isna(text)) or not str(text).strip():
        return None
    ref = reference or load_reference()
    key = ("hardware", str(text))
    if key not in ref.memo:
        ref.memo[key] = ref.hardware_keys.get(hardware_key(text))
    hardware_id = ref.memo[key]
    if hardware_id is None:
        UNRESOLVED_HARDWARE[str(text).strip()] += 1
    return hardware_id


# ---------------------------------------------------------------------------------------------- location

_PROVIDER_WORDS = {
    "aws": "aws", "amazon": "aws", "amazon web services": "aws",
    "gcp": "gcp", "google cloud": "gcp", "google cloud platform": "gcp",
    "azure": "azure", "microsoft azure": "azure",
}
_PLACEHOLDERS = {"na", "n/a", "none", "unknown", "null", "-", "tbd", "[more information needed]"}
_COUNTRY_ALIASES = {"korea (republic of)": "KR", "uk": "GB", "u.k.": "GB", "england": "GB", "u.s.": "US",
                    "u.s.a.": "US", "united states": "US", "america": "US", "korea": "KR", "south korea": "KR"}


def _country(text: str, codes_only: bool = False) -> str | None:
    s = text.strip().strip(".")
    if not s:
        return None
    if codes_only:  # a bare word inside a longer phrase counts only as an upper-case ISO code
        if not re.fullmatch(r"[A-Z]{2,3}", s):
            return None
    elif s.lower() in _COUNTRY_ALIASES:
        return _COUNTRY_ALIASES[s.lower()]
    try:
        return pycountry.countries.lookup(s).alpha_2
    except LookupError:
        return None


def _subdivision(text: str) -> str | None:
    """ISO 3166-2 code of a subdivision written by its name ('Iowa' -> US-IA), when the name is unambiguous."""
    name = text.strip().lower()
    if len(name) < 4:
        return None
    codes = {s.code for s in pycountry.subdivisions if s.name.lower() == name}
    return codes.pop() if len(codes) == 1 else None


def _datacenter(raw: str, ref: Reference) -> str | None:
    """Location of the named sites a text mentions ('Google Georgia', 'Jean Zay ... and Adastra').

    Several sites: their common location, or their common country, else None (not guessed).
    """
    text = raw.lower()
    found = {loc for name, loc in zip(ref.datacenters.name, ref.datacenters.location_id, strict=True)
             if re.search(rf"(?<![a-z0-9]){re.escape(name.lower())}(?![a-z0-9])", text)}
    if len(found) == 1:
        return found.pop()
    countries = {loc[:2] for loc in found}
    return countries.pop() if len(countries) == 1 else None


def _region_match(text: str, provider: str | None, ref: Reference, prefix: bool = True) -> str | None:
    regions = ref.cloud_regions
    if provider:
        regions = regions[regions.provider == provider]
    s = text.strip().lower()
    if not s:
        return None
    code = re.sub(r"\s+", "-", s)
    by_code = regions.index[regions.region.str.lower() == code]
    if len(by_code) == 1:
        return by_code[0]
    squashed = re.sub(r"[^a-z0-9]", "", s)
    for region_id, names in regions.display_names.dropna().items():
        if squashed in {re.sub(r"[^a-z0-9]", "", n.lower()) for n in names.split("|")}:
            return region_id
    if not prefix or len(code) < 4:
        return None
    prefixed = regions[regions.region.str.lower().str.startswith(code)]
    if len(prefixed) == 1:
        return prefixed.index[0]
    if len(prefixed) > 1 and prefixed.country_code.nunique() == 1:
        return prefixed.country_code.iloc[0]  # 'us-east': several regions, one country
    return None


def resolve_location(text: str | None, reference: Reference | None = None) -> str | None:
    """ISO 3166-1 alpha-2 country or `provider:region` for 'us-east-1', 'AWS us-east', 'France', 'Iowa, USA'..."""
    if text is None or (isinstance(text, float) and pd.isna(text)) or not str(text).strip():
        return None
    ref = reference or load_reference()
    raw = str(text).strip()
    if raw.lower().strip(".") in _PLACEHOLDERS:
        return None
    key = ("location", raw)
    if key not in ref.memo:
        found = _resolve_location(raw, ref)
        bare = re.sub(r"\s*\([^)]*\)\s*$", "", raw)  # 'AWS us-west-2 (Oregon)': a gloss on a resolvable name
        if found is None and bare and bare != raw:
            found = _resolve_location(bare, ref)
        ref.memo[key] = found
    found = ref.memo[key]
    if found is None:
        UNRESOLVED_LOCATIONS[raw] += 1
    return found


def _resolve_location(raw: str, ref: Reference) -> str | None:
    if re.fullmatch(r"[A-Z]{2}-[A-Z0-9]{1,3}", raw):  # already a location id ('US-OK', from the model registry)
        return raw if raw in set(ref.grid_intensity.zone_id) else raw[:2]
    site = _datacenter(raw, ref)
    if site:
        return site
    lowered = raw.lower()
    if ":" in lowered:
        provider, _, region = lowered.partition(":")
        provider = _PROVIDER_WORDS.get(provider.strip(), provider.strip())
        region_id = f"{provider}:{region.strip()}"
        return region_id if region_id in ref.cloud_regions.index else None
    provider = None
    for word in sorted(_PROVIDER_WORDS, key=len, reverse=True):
        if re.search(rf"\b{re.escape(word)}\b", lowered):
            provider = _PROVIDER_WORDS[word]
            lowered = re.sub(rf"\b{re.escape(word)}\b", " ", lowered)
            break
    rest = re.sub(r"[,;()]", " ", lowered).strip()
    if provider and rest:
        return _region_match(rest, provider, ref)
    # without a provider word, a country name wins over a region prefix ('Germany' is not germanywestcentral)
    region = _region_match(rest, None, ref, prefix=False)
    if region:
        return region
    country = _country(raw)
    if country:
        return country
    if re.search(r"[\d-]", rest):  # looks like a region code: 'us-east', 'europe-west'
        region = _region_match(rest, None, ref)
        if region:
            return region
    parts = [p for p in re.split(r"[,;()/]", raw) if p.strip()]
    country = subdivision = None
    for part in reversed(parts):  # 'Iowa, USA': the country is usually last
        found = _country(part)
        if found:
            country = country or found
        elif subdivision is None:
            subdivision = _subdivision(part)
    if subdivision and (country is None or subdivision.startswith(f"{country}-")):
        return subdivision  # 'Jupiter (Texas)' -> US-TX, 'Iowa, USA' -> US-IA
    if country:
        return country
    for word in reversed(re.findall(r"[A-Za-z.]+", raw)):
        country = _country(word, codes_only=True)
        if country:
            return country
    return None


def location_zones(location_id: str | None, ref: Reference) -> list[str]:
    """Zones to look up a grid intensity for, most specific first."""
    if not location_id:
        return ["WORLD"]
    if location_id in ref.cloud_regions.index:
        region = ref.cloud_regions.loc[location_id]
        zones = [location_id]
        if isinstance(region.subdivision_code, str):
            zones.append(region.subdivision_code)
        return [*zones, region.country_code]
    if re.fullmatch(r"[A-Z]{2}-[A-Z0-9]+", location_id):  # subdivision, then its country
        return [location_id, location_id[:2]]
    return [location_id]


def location_provider(location_id: str | None, ref: Reference) -> str | None:
    if location_id and location_id in ref.cloud_regions.index:
        return str(ref.cloud_regions.loc[location_id].provider)
    return None


@functools.lru_cache(maxsize=4)
def _organization_countries(directory: Path) -> dict[str, str]:
    path = directory / "epoch_notable_ai_models.csv"
    if not path.exists():
        return {}
    frame = pd.read_csv(path, usecols=lambda c: c.startswith(("Organization", "Country")))
    org_col = next(c for c in frame.columns if c.startswith("Organization"))
    country_col = next((c for c in frame.columns if c.startswith("Country")), None)
    if country_col is None:
        return {}
    single = frame.dropna()
    single = single[~single[org_col].str.contains(",") & ~single[country_col].str.contains(",")]
    found = {}
    for org, countries in single.groupby(single[org_col].str.strip().str.lower())[country_col]:
        names = set(countries.str.strip())
        if len(names) == 1:
            code = _country(names.pop())
            if code:
                found[org] = code
    return found


def organization_country(organization: str | None, directory: Path = REFERENCE_DIR) -> str | None:
    """Country of a developer as Epoch AI records it ('Meta AI' -> 'US'); None when unknown or ambiguous."""
    if not organization or not isinstance(organization, str):
        return None
    return _organization_countries(directory).get(organization.strip().lower())


def unresolved_counts() -> dict[str, dict[str, int]]:
    """Spellings that did not resolve since the process started (hardware and location)."""
    return {"hardware": dict(UNRESOLVED_HARDWARE), "location": dict(UNRESOLVED_LOCATIONS)}


# ---------------------------------------------------------------------------------------------- building

CODECARBON_URL = "https://github.com/mlco2/codecarbon"


def _codecarbon_file(*parts: str):
    return importlib.resources.files("codecarbon").joinpath("data", *parts)


def codecarbon_grid_rows() -> pd.DataFrame:
    """Grid-intensity rows derived from the installed codecarbon package's offline data files.

    Countries: `global_energy_mix.json` (carbon_intensity, gCO2eq/kWh, per country and year);
    US states: `2023/usa_emissions.json` (EPA eGRID2023, lbs/MWh); GCP regions: `cloud/impact.csv`
    (gCO2eq/kWh from Google's region carbon data); world: `carbon_intensity_per_source.json`.
    """
    version = importlib.metadata.version("codecarbon")
    license_ = f"MIT (codecarbon {version})"
    base = f"codecarbon {version}"
    rows = []
    mix = json.loads(_codecarbon_file("private_infra", "global_energy_mix.json").read_text())
    for iso3, entry in sorted(mix.items()):
        country = pycountry.countries.get(alpha_3=iso3)
        if country is None or entry.get("carbon_intensity") is None:
            continue
        rows.append(dict(zone_id=country.alpha_2, zone_kind="country", year=entry.get("year"),
                         kg_per_kwh=float(entry["carbon_intensity"]) / 1000,
                         value_as_published=str(entry["carbon_intensity"]), unit_as_published="gCO2eq/kWh",
                         source=f"{base}, country energy mix (Our World in Data / Ember electricity data)",
                         source_url=CODECARBON_URL, license=license_,
                         locator=f"codecarbon/data/private_infra/global_energy_mix.json, key {iso3}.carbon_intensity"))
    usa = json.loads(_codecarbon_file("private_infra", "2023", "usa_emissions.json").read_text())
    egrid = usa["_source"]
    for state, entry in sorted(usa.items()):
        if state.startswith("_"):
            continue
        code = entry["regionCode"].upper()
        zone, kind = ("US", "country") if code == "USA" else (f"US-{code}", "subdivision")
        if kind == "subdivision" and pycountry.subdivisions.get(code=zone) is None:
            continue
        rows.append(dict(zone_id=zone, zone_kind=kind, year=egrid["year"],
                         kg_per_kwh=float(entry["emissions"]) * 0.45359237 / 1000,
                         value_as_published=str(entry["emissions"]), unit_as_published="lbs/MWh",
                         source=f"{base}, {egrid['name']}", source_url=egrid["url"], license=license_,
                         locator=f"codecarbon/data/private_infra/2023/usa_emissions.json, key {state}.emissions "
                                 f"(eGRID field {egrid['field']})"))
    per_source = json.loads(_codecarbon_file("private_infra", "carbon_intensity_per_source.json").read_text())
    rows.append(dict(zone_id="WORLD", zone_kind="world", year=None,
                     kg_per_kwh=float(per_source["world_average"]) / 1000,
                     value_as_published=str(per_source["world_average"]), unit_as_published=per_source["unit"],
                     source=f"{base}, world average (IEA Global Energy & CO2 Status Report 2019)",
                     source_url=per_source["world_average_source"], license=license_,
                     locator="codecarbon/data/private_infra/carbon_intensity_per_source.json, key world_average"))
    impact = pd.read_csv(_codecarbon_file("cloud", "impact.csv"), encoding="utf-8-sig")
    for r in impact.itertuples():
        rows.append(dict(zone_id=f"{r.provider}:{r.region}", zone_kind="cloud_region", year=None,
                         kg_per_kwh=float(r.impact) / 1000, value_as_published=str(r.impact),
                         unit_as_published="gCO2eq/kWh", source=f"{base}, cloud region impact ({r.providerName})",
                         source_url=r.source, license=license_,
                         locator=f"codecarbon/data/cloud/impact.csv, row {r.provider},{r.region}, column impact"))
    frame = pd.DataFrame(rows)
    frame["year"] = frame["year"].astype("Int64")
    return frame


def codecarbon_gcp_regions() -> pd.DataFrame:
    """GCP regions and their countries from codecarbon's `cloud/impact.csv`."""
    version = importlib.metadata.version("codecarbon")
    impact = pd.read_csv(_codecarbon_file("cloud", "impact.csv"), encoding="utf-8-sig")
    rows = []
    for r in impact.itertuples():
        country = pycountry.countries.get(alpha_3=r.countryIsoCode)
        subdivision = None
        if isinstance(r.state, str):
            matches = [s.code for s in pycountry.subdivisions.get(country_code=country.alpha_2) or []
                       if s.name.lower() == r.state.lower()]
            subdivision = matches[0] if len(matches) == 1 else None
        rows.append(dict(region_id=f"gcp:{r.region}", provider="gcp", region=r.region,
                         country_code=country.alpha_2, subdivision_code=subdivision,
                         display_names=None,  # city names alone would over-match ('Paris' is not GCP)
                         source=f"codecarbon {version}, cloud region impact (Google Cloud Platform)",
                         source_url=r.source, locator=f"codecarbon/data/cloud/impact.csv, row gcp,{r.region}"))
    return pd.DataFrame(rows)
