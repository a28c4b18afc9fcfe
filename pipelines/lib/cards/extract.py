"""Figures and descriptive fields from a card's body blocks: key/value fields, prose, tables.

Three readers share one vocabulary of field names (`classify_key`):
- fields: "**Carbon Emitted:** 11250 kg CO2 eq." in lists, paragraphs and two-column (Q&A) tables;
- prose: a number with a mass unit in a sentence about CO2/carbon/emissions ("were 539 tCO2eq");
  rates ("92 g/km", "per year") and comparisons ("a car emits ...") are not amounts and are skipped;
- tables: a column (or row) whose header names a unit ("Carbon Emitted(tCO2eq)", "Emissions (kg)") gives
  one figure per row (or column); a "Total" row is flagged as a total.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from pipelines.lib.cards import text as t
from pipelines.lib.cards.body import MAX_TABLE_ROWS, Block
from pipelines.lib.cards.result import Figure, QuarantineItem

MAX_FIGURES = 500
METRIC_KINDS = ("emissions", "energy", "power", "hours", "intensity", "pue", "chip_count")
_TABLE_METRICS = ("emissions", "energy", "chip_hours", "carbon_intensity")  # what makes a table relevant

# --- vocabulary ------------------------------------------------------------------------------------------

_KEY_KINDS: list[tuple[str, re.Pattern]] = [
    ("pue", re.compile(r"\bpue\b|power usage effectiveness")),
    (
        "chip_count",
        re.compile(
            r"^(?:number of|num|no\.? of|#) ?(?:gpus|tpus|chips|accelerators|devices)$|"
            r"^(?:gpu|tpu|chip|accelerator) count$"
        ),
    ),
    (
        "intensity",
        re.compile(
            r"carbon (?:intensity|efficiency)|energy mix|grid (?:carbon )?intensity|"
            r"emissions? (?:factor|intensity)"
        ),
    ),
    ("emissions", re.compile(r"emission|emitted|footprint|\bco2(?:\s?eq|e)?\b|\bco₂|\bghg\b|greenhouse")),
    ("energy", re.compile(r"energy|electricity|\bkwh\b|consum")),
    ("power", re.compile(r"\bpower\b|\btdp\b|\bwatts?\b")),
    (
        "hours",
        re.compile(
            r"^(?:hours?(?: used)?|(?:gpu|tpu|chip|compute|training) hours|training (?:time|duration|days)|"
            r"duration(?: of .*)?|(?:total |compute |training )?time|run ?time|wall[- ]?clock(?: time)?|"
            r"days|how much time .*)$"
        ),
    ),
    (
        "hardware",
        re.compile(
            r"^(?:hardware(?: type| used)?|hardware_used|gpus?(?: model| type| used)?|"
            r"cpu(?: model| used)?|accelerators?(?: used)?|devices?|training hardware)$"
        ),
    ),
    ("provider", re.compile(r"^(?:cloud provider|provider|cloud|compute provider)$")),
    (
        "location",
        re.compile(
            r"^(?:compute region|region|location|geo(?:graphical|graphic)? ?location|country|"
            r"(?:training|compute|server|server training) location|data ?cent(?:er|re)(?: location)?)$|"
            r"\bgeo ?location\b"
        ),
    ),
    (
        "source",
        re.compile(r"^source$|^method(?:ology)?$|^(?:estimation|measurement) (?:method|tool)$|^tool$"),
    ),
    ("training_type", re.compile(r"training[ _]type")),
]
_NOT_EMISSIONS = re.compile(
    r"\brate\b|label|track|reduc|offset|calculat|method|\bsource\b|\btool|"
    r"\bper\b|/|energy|power|electric|consum|\bavoided\b|saving"
)
_NOT_HOURS = re.compile(r"inference|latency|time[- ]to|real[- ]time|per\b|/|token|response")

_EMISSION_CONTEXT = re.compile(r"co2|co₂|co_2|carbon|emission|emitted|\bghg\b|greenhouse|footprint", re.I)
_ENERGY_CONTEXT = re.compile(r"wh\b|hours", re.I)
# Every word the two patterns above can match, lower-case: a paragraph of plain ASCII prose containing none of
# them is skipped with substring tests (a case-insensitive alternation over a long paragraph costs ~0.2 ms).
_PROSE_WORDS = ("co2", "co_2", "carbon", "emission", "emitted", "ghg", "greenhouse", "footprint", "wh", "hours")


def _may_mention(text: str, words: tuple[str, ...]) -> bool:
    """False only when `text` is ASCII and contains none of `words` in any letter case."""
    if not text.isascii():
        return True  # other scripts' case rules: leave it to the patterns
    lowered = text.lower()
    return any(word in lowered for word in words)
# Words before a mass that say it is somebody else's emissions or a comparison, not this model's.
_COMPARISON = re.compile(
    r"\b(?:cars?|vehicles?|driv\w*|flights?|flying|planes?|household|homes?|passengers?|americans?|persons?|"
    r"people|human|citizens?|beef|trees?|round[- ]trips?|compared (?:to|with)|comparison|by contrast|whereas|"
    r"such as|like|lifetime|per capita|gasoline|petrol|fuel|tetrachloride|chloroform|concentrations?|"
    r"reduc\w*|sav(?:ed|ing|es)|avoid\w*|offset\w*|rmse|mae|mse|error|predict\w*|forecast\w*|"
    r"(?:one|a|another|previous|prior|earlier|recent|some) (?:study|paper|analysis)|studies|examples?)\b",
    re.I,
)
# What joins the numbers of one list ("3 kg and 5 kWh", "3 kg, 5 kg or 7 kg"): a connector and a few words.
_LIST_GOES_ON = re.compile(r"^[\s`'\"*)\]]*(?:,|and\b|or\b|&)[^.;!?]{0,40}$", re.I)
# Outside an emissions/hardware/training section, a mass or an energy counts only in a sentence about this model's
# run (an example sentence of an energy-news classifier is not the model's energy).
_OWN_RUN = re.compile(
    r"\b(?:we|our|this model|the model|training|trained|train|fine-?tun\w*|pre-?train\w*)\b", re.I
)
_LOCATION_BASED = re.compile(r"location[- ]based", re.I)
_MARKET_BASED = re.compile(r"market[- ]based", re.I)
_TOTAL_LABEL = re.compile(r"^\W*(?:total|sum|overall|aggregate|all models|family total)\b", re.I)
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+(?=[A-Z0-9*\"'(\[])|\n+")
_EMISSIONS_SECTION = re.compile(
    r"environment|carbon|emission|co2|co₂|footprint|energy|sustainab|climate", re.I
)
# sections that describe the training run itself
_RUN_SECTION = re.compile(r"hardware|compute|infrastructure|training|speeds|details", re.I)

_STAGE_CUES: list[tuple[str, re.Pattern]] = [
    (
        "development",
        re.compile(
            r"all experiments|hyper-?parameter (?:search|tuning|sweeps?)|\bablations?\b|"
            r"preliminary (?:experiments|runs)|development (?:runs?|experiments?)",
            re.I,
        ),
    ),
    (
        "inference",
        re.compile(
            r"\binferenc\w*|\bper (?:sample|query|request|image|prediction)\b|"
            r"\bone sample\b|\bdeploy\w*|\bserving\b",
            re.I,
        ),
    ),
    (
        "fine-tuning",
        re.compile(
            r"\bfine[- ]?tun\w*|\bsft\b|\brlhf\b|\bdpo\b|instruction[- ]tun\w*|"
            r"\bpost-?train\w*|\bq?lora\b",
            re.I,
        ),
    ),
    ("pretraining", re.compile(r"\bpre-?\s?train\w*|\bannealing\b|from scratch", re.I)),
]
_PER = re.compile(
    r"\b(?:per|each|one|every|single) (sample|query|request|image|prediction|inference|run|epoch)\b", re.I
)


def _per(text: str) -> str | None:
    """'sample' for 'per sample' / 'of one sample', 'run' for 'Average per Run': a figure per unit of work."""
    match = _PER.search(text)
    return match.group(1).lower() if match else None


def stage_cue(text: str) -> tuple[str, str] | None:
    """(stage, the words that say so) for a stage named in free text, or None."""
    hits = []
    for stage, pattern in _STAGE_CUES:
        match = pattern.search(text)
        if match:
            hits.append((match.start(), stage, match.group(0)))
    if not hits:
        return None
    stages = {h[1] for h in hits}
    if {"pretraining", "fine-tuning"} <= stages:
        return "total", "pre-training and fine-tuning"
    _, stage, words = min(hits)
    return stage, words


def stage_for_training_type(training_type: str | None) -> str | None:
    """Map a printed training type to a stage: 'pre-training' -> pretraining, 'fine-tuning' -> fine-tuning,
    'inference' -> inference, 'all experiments' -> development, plain 'training' / 'total' -> total."""
    if not training_type:
        return None
    cue = stage_cue(training_type)
    if cue:
        return cue[0]
    if re.fullmatch(
        r"\s*(?:model\s+)?(?:training|train|trained|total|overall|lifecycle|all stages)\s*",
        training_type,
        re.I,
    ):
        return "total"
    return None


def classify_key(key: str) -> str | None:
    """What a field name is about: emissions, energy, power, hours, intensity, pue, hardware, provider,
    location, source, training_type; None for anything else."""
    core = normalize_key(key)
    if not core or len(core) > 160:
        return None
    for kind, pattern in _KEY_KINDS:
        if pattern.search(core):
            if kind == "emissions" and _NOT_EMISSIONS.search(core):
                continue
            if kind == "hours" and _NOT_HOURS.search(core):
                continue
            return kind
    return None


def normalize_key(key: str) -> str:
    """'**Carbon Emitted (Power consumption x Time ...)**:' -> 'carbon emitted'."""
    core = re.sub(r"\([^)]*\)", " ", key)
    core = re.sub(r"^\s*\d+[.)]\s*", "", core)  # "7. How much CO2eq ..." numbered questions
    core = re.sub(r"[*_`#>]+", " ", core).strip().strip(":?").lower()
    return re.sub(r"\s+", " ", core).strip()


def unit_in_key(key: str) -> str | None:
    """A unit printed in a field name: 'CO2 Emissions (in grams)' -> 'grams', 'Power (W)' -> 'W'."""
    for inner in re.findall(r"\(([^()]{1,40})\)", key):
        inner = re.sub(r"^\s*in\s+", "", inner.strip(), flags=re.I).strip()
        if t.metric_for_unit(inner):
            return inner
    # a unit closing a field name: "co2_kg", "energy_kWh", "gpu_hours", "Emissions in kg"
    suffix = re.search(
        r"(?:^|[\s_])(?:in\s+)?(kg|g|t|tons?|tonnes?|[kmg]?wh|gpu[_ ]hours|hours|[km]?w)\s*$", key, re.I
    )
    if suffix and t.metric_for_unit(suffix.group(1).replace("_", " ")):
        return suffix.group(1).replace("_", " ")
    return None


def split_field(line: str) -> tuple[str, str] | None:
    """'Key: value' -> (key, value); None when the line is not a field."""
    match = re.match(r"^\s*([^:\n]{1,160}?)\s*[:：]\s*(.*)$", line, re.DOTALL)
    if not match:
        return None
    key, value = match.group(1), match.group(2)
    if re.search(r"https?$", key, re.I) or not re.search(r"[A-Za-z]", key):
        return None
    return key, value.strip()


# --- the extractor ---------------------------------------------------------------------------------------


@dataclass
class FieldCandidate:
    kind: str
    value: str | float | int
    locator: str
    priority: int  # lower wins: 0 front matter, 1-3 fields (emissions section first), 4 prose, 5 asides
    order: int


@dataclass
class Extractor:
    figures: list[Figure] = field(default_factory=list)
    fields: list[FieldCandidate] = field(default_factory=list)
    quarantine: list[QuarantineItem] = field(default_factory=list)
    order: int = 0
    overflow: bool = False
    locators: dict[str, int] = field(default_factory=dict)  # locator -> figures already placed there

    # -- bookkeeping --

    def next_order(self) -> int:
        self.order += 1
        return self.order

    def quarantine_item(self, locator: str, item: str, reason: str) -> None:
        if len(self.quarantine) < MAX_FIGURES:
            self.quarantine.append(QuarantineItem(locator, t.clean_text(item, 200), reason))

    def add_field(self, kind: str, value: str | float | int | None, locator: str, priority: int) -> None:
        if isinstance(value, str):
            value = t.printed_field(value)
        if value is None or value == "":
            return
        self.fields.append(FieldCandidate(kind, value, locator, priority, self.next_order()))

    def add_figure(
        self,
        metric: str,
        value_text: str,
        unit_text: str | None,
        locator: str,
        origin: str,
        *,
        number: float | None = None,
        section: str = "",
        **details,
    ) -> Figure | None:
        """Normalize and keep one figure; a value that cannot be normalized goes to quarantine."""
        if len(self.figures) >= MAX_FIGURES:
            if not self.overflow:
                self.overflow = True
                self.quarantine_item(
                    "card",
                    f"more than {MAX_FIGURES} figures",
                    f"figure limit reached; figures after the first {MAX_FIGURES} ignored",
                )
            return None
        value_text = t.strip_footnote(value_text)
        try:
            value, unit, qualifier = t.normalize_figure(metric, value_text, unit_text, number)
        except (t.ValueProblem, OverflowError) as err:
            self.quarantine_item(locator, f"{value_text} {unit_text or ''}".strip(), f"{metric}: {err}")
            return None
        seen = self.locators.get(locator, 0)
        self.locators[locator] = seen + 1
        if seen:  # the same field name twice in one section: every figure keeps a locator of its own
            locator = f"{locator} (occurrence {seen + 1})"
        figure = Figure(
            metric=metric,
            value_as_printed=value_text,
            unit_as_printed=unit_text,
            value=value,
            unit=unit,
            locator=locator,
            origin=origin,
            qualifier=qualifier,
            section=section,
            order=self.next_order(),
            **details,
        )
        self.figures.append(figure)
        return figure

    # -- body --

    def read_blocks(self, blocks: list[Block]) -> None:
        previous_text = ""
        open_field: tuple[str, str, str, int] | None = None  # (kind, item text, locator, priority) w/o value
        gathered: list[str] = []
        for block in blocks:
            if open_field and not (block.kind == "item" and open_field[1] in block.parents):
                self._close_open_field(open_field, gathered)
                open_field, gathered = None, []
            if open_field:
                gathered.append(block.text)
                continue
            if block.kind == "table":
                self.read_table(block, previous_text)
            elif block.kind == "item":
                opened = self.read_item(block)
                if opened:
                    open_field, gathered = opened, []
            elif block.kind == "paragraph":
                self.read_paragraph(block)
            if block.kind in ("paragraph", "item"):
                previous_text = block.text
            elif block.kind == "heading":
                previous_text = ""
        if open_field:
            self._close_open_field(open_field, gathered)

    def _close_open_field(self, open_field: tuple[str, str, str, int], gathered: list[str]) -> None:
        kind, _, locator, priority = open_field
        if gathered and kind in ("hardware", "location", "provider", "source", "training_type"):
            self.add_field(kind, ", ".join(g.rstrip(",; ") for g in gathered), locator, priority)

    def read_item(self, block: Block) -> tuple[str, str, str, int] | None:
        pair = split_field(block.text)
        if pair is None:
            self.read_prose(block.text, block, context=" ".join(block.parents))
            return None
        key, value = pair
        value = " ".join(v.strip() for v in value.split("\n") if v.strip())
        kind = classify_key(key)
        parent_kinds = [classify_key(p.split(":", 1)[0]) for p in block.parents if ":" in p or len(p) < 60]
        variant = None
        inherited = next((k for k in reversed(parent_kinds) if k in METRIC_KINDS), None)
        if kind not in METRIC_KINDS and inherited and t.leading_quantity(value):
            # "Power Consumption:" then "- CPU: 42.5 kWh": a part of the parent's quantity
            kind, variant = inherited, key.strip()
        if kind is None:
            self.read_prose(block.text, block, context=" ".join(block.parents))
            return None
        return self.read_field(key, value, kind, block, context=" ".join(block.parents), variant=variant)

    def read_paragraph(self, block: Block) -> None:
        rest = []
        for line in block.text.split("\n"):
            pair = split_field(line)
            kind = classify_key(pair[0]) if pair else None
            if pair and kind and (kind not in METRIC_KINDS or self._value_is_figure(pair[1])):
                self.read_field(pair[0], pair[1], kind, block, context=block.text)
            else:
                rest.append(line)
        if rest:
            self.read_prose("\n".join(rest), block, context=block.text)

    @staticmethod
    def _value_is_figure(value: str) -> bool:
        return bool(t.leading_quantity(value) or t.leading_number(value))

    def field_priority(self, block: Block) -> int:
        """1 in an emissions section, 2 in a hardware/training section, 3 elsewhere (prose is 4)."""
        if any(_EMISSIONS_SECTION.search(h) for h in block.headings):
            return 1
        return 2 if any(_RUN_SECTION.search(h) for h in block.headings) else 3

    def read_field(
        self,
        key: str,
        value: str,
        kind: str,
        block: Block,
        *,
        context: str = "",
        variant: str | None = None,
        locator: str | None = None,
    ) -> tuple | None:
        """One 'Key: value' field. Returns an 'open field' when a descriptive field's value follows
        in nested items (e.g. 'Hardware Used:' then '- CPU: ...')."""
        key_text = t.clean_text(key, 160).strip(" *:")
        locator = locator or (f"{block.section} > {key_text}" if block.section else key_text)
        if block.parents and not locator.startswith("table"):
            parents = " > ".join(_label(p) for p in block.parents)
            locator = (
                f"{block.section} > {parents} > {key_text}" if block.section else f"{parents} > {key_text}"
            )
        priority = self.field_priority(block)
        if kind not in METRIC_KINDS:
            if kind == "source" and priority != 1:
                return None  # "Source:" outside an emissions section is about something else (data, code)
            if not value.strip():
                return (kind, block.text, locator, priority)
            self.add_field(kind, value, locator, priority)
            return None
        if t.is_placeholder(value) or not value.strip():
            return None
        cue_text = " ".join([key, variant or ""])
        details = self._context_details(cue_text, context + " " + " ".join(block.headings))
        per = _per(f"{key} {' '.join(block.parents)}")
        if per:
            details["per"] = per
            if per != "run":
                details.update(stage="inference", stage_source="stated")
        if kind == "hours":
            self.add_field("hours", _printed_hours(value, unit_in_key(key)), locator, priority)
        if t.is_range(value):
            self.quarantine_item(locator, value, f"{kind}: a range, not one value")
            return None
        quantity = t.leading_quantity(value)
        if quantity is not None and t.is_compound(value.lstrip(), quantity):
            return None  # "118 days, 5 hours, 41 min": kept as printed in the card's `hours`
        if quantity is not None:
            self._field_quantity(kind, quantity, key, value, locator, block, details, variant)
            return None
        number = t.leading_number(value)
        if number is not None:
            unit = unit_in_key(key) or _implied_unit(kind, key)
            if unit is None:
                if kind in ("emissions", "energy"):
                    self.quarantine_item(locator, value, f"{kind} figure printed without a unit")
                return None
            metric = t.metric_for_unit(unit) or "duration"
            if kind == "hours" and metric == "duration" and re.search(r"gpu|tpu|chip", key, re.I):
                metric = "chip_hours"
            if kind in ("pue", "chip_count"):
                metric = kind
            self.add_figure(
                metric, number, unit, locator, "field", section=block.section, variant=variant, **details
            )
            return None
        if kind in ("emissions", "energy", "intensity") and t.find_quantities(value[:2000]):
            # a sentence rather than a value: read it as prose, the field name being its context
            self.read_prose(value, block, context=f"{key} {context}", locator_prefix=locator)
        return None

    def _field_quantity(
        self,
        kind: str,
        quantity: t.Quantity,
        key: str,
        value: str,
        locator: str,
        block: Block,
        details: dict,
        variant: str | None,
    ) -> None:
        metric = quantity.metric
        if kind == "energy" and metric == "power":
            self.quarantine_item(
                locator,
                f"{quantity.value_text} {quantity.unit_text}",
                "energy field printed with a power unit (W/kW): not an amount of energy",
            )
            return
        if kind == "emissions" and metric not in ("emissions", "carbon_intensity"):
            self.quarantine_item(
                locator,
                f"{quantity.value_text} {quantity.unit_text}",
                f"emissions field printed with a {metric} unit",
            )
            return
        if kind in ("pue", "chip_count"):
            return
        if quantity.is_rate and details.get("per") is None:
            return  # "5 g/km", "per year": a rate, not this run's amount
        figure = self.add_figure(
            metric,
            quantity.value_text,
            quantity.unit_text,
            locator,
            "field",
            section=block.section,
            variant=variant,
            **details,
        )
        beside = re.match(r"\s*\(([A-Za-z][A-Za-z .,'-]{1,40})\)\s*$", value[quantity.end :])
        if figure is not None and metric == "emissions" and beside and not t.is_placeholder(beside.group(1)):
            # "0.25 KgCO2 (Singapore)": where the run was, printed next to its emissions
            self.add_field("location", beside.group(1), f"{locator} (beside the emissions figure)", 5)

    def _context_details(self, own: str, context: str, near: str = "") -> dict:
        """Stage and basis from the figure's own words (`near`: the clause right before a number in prose),
        else from its surroundings."""
        details: dict = {}
        for text, source in ((near, "stated"), (own, "stated"), (context, "context")):
            cue = stage_cue(text)
            if cue:
                details.update(stage=cue[0], stage_source=source)
                break
        for text in (near, own, context):
            if _MARKET_BASED.search(text) and not _LOCATION_BASED.search(text):
                details["basis"] = "market-based"
                break
            if _LOCATION_BASED.search(text) and not _MARKET_BASED.search(text):
                details["basis"] = "location-based"
                break
        return details

    # -- prose --

    def read_prose(
        self, text: str, block: Block, *, context: str = "", locator_prefix: str | None = None
    ) -> None:
        if not _may_mention(text, _PROSE_WORDS) or (
                not _EMISSION_CONTEXT.search(text) and not _ENERGY_CONTEXT.search(text)):
            return
        section = block.section
        surroundings = f"{context[:2000]} {text[:2000]} {section}"
        relevant_section = any(_EMISSIONS_SECTION.search(h) or _RUN_SECTION.search(h) for h in block.headings)
        for number, sentence in enumerate(_sentences(text), start=1):
            quantities = t.find_quantities(
                sentence, ("emissions", "energy", "chip_hours", "carbon_intensity")
            )
            previous_end = 0
            compared = False  # the previous number was somebody else's (a comparison, an example)
            for q in quantities:
                if self.overflow:
                    return
                clause = sentence[previous_end : q.start]
                previous_end = q.end
                window = sentence[max(0, q.start - 300) : q.end + 120]
                own_words = sentence if len(sentence) <= 2000 else window  # bounded work per number
                # "such as 3 kg and 5 kWh": the comparison that introduces a list covers every number of it
                compared = bool(_COMPARISON.search(clause[-200:])) or (
                    compared and bool(_LIST_GOES_ON.match(clause)) and not _OWN_RUN.search(clause))
                if q.metric == "emissions":
                    if q.is_rate or not _EMISSION_CONTEXT.search(window) or compared:
                        continue
                    if not relevant_section and not _OWN_RUN.search(own_words):
                        continue
                elif q.metric == "energy":
                    if q.is_rate or compared:
                        continue
                    if not relevant_section and not _OWN_RUN.search(own_words):
                        continue
                # a place, never the card's own words: locators are published, the card's prose is not
                place = f"{'item' if block.kind == 'item' else 'paragraph'} {block.position}"
                locator = locator_prefix or (f"{section} > {place}" if section else place)
                locator = f"{locator}, sentence {number}"
                if len(quantities) > 1:  # several numbers in one sentence: say which
                    locator += f", number {quantities.index(q) + 1}"
                details = self._context_details(
                    own_words, surroundings, near=clause[-300:] + sentence[q.start : q.end]
                )
                if q.metric == "chip_hours":
                    self.add_field("hours", f"{q.value_text} {q.unit_text}", locator, 4)
                self.add_figure(
                    q.metric, q.value_text, q.unit_text, locator, "prose", section=section, **details
                )
        self._prose_fields(text, block)

    def _prose_fields(self, text: str, block: Block) -> None:
        for match in re.finditer(
            r"hardware of type ([^.;\n]{2,80}?(?:\([^)\n]{0,40}\))?)(?=[.;,\n]|$)|"
            r"\bon ([A-Z][\w\-]{1,40}(?: \([^)\n]{0,40}\))?) type hardware",
            text[:20000],
        ):
            self.add_field("hardware", match.group(1) or match.group(2), f"{block.section} > prose", 4)
        for sentence in _sentences(text[:20000]):
            if re.search(r"\b(?:can|could|may|might) be (?:estimated|calculated|measured)", sentence, re.I):
                continue
            if re.search(
                r"\b(?:estimat|measur|calculat|track|comput|determin)\w*\b", sentence, re.I
            ) and re.search(r"emission|co2|co₂|carbon|energy|environmental impact", sentence, re.I):
                tool = re.search(
                    r"codecarbon|carbontracker|experiment[- ]impact[- ]tracker|eco2ai|"
                    r"green algorithms|machine ?learning impact calculator|ml ?co2 impact",
                    sentence,
                    re.I,
                )
                if tool:
                    self.add_field("source", tool.group(0), f"{block.section} > prose", 4)
                    continue
                method = re.search(r"methodology\b.*?(https?://\S+|arxiv[:.]\S+)", sentence, re.I)
                if method:
                    self.add_field(
                        "source",
                        f"methodology: {method.group(1).rstrip(').')}",
                        f"{block.section} > prose",
                        4,
                    )

    # -- tables --

    def read_table(self, block: Block, previous_text: str) -> None:
        rows = [r for r in block.rows if any(c.strip() for c in r)]
        if len(rows) < 2 or max(len(r) for r in rows) < 2:
            return
        width = max(len(r) for r in rows)
        rows = [r + [""] * (width - len(r)) for r in rows]
        where = f"table {block.number}" + (f" in section '{block.section}'" if block.section else "")
        context = f"{previous_text[:1000]} {block.section}"
        col_headers = rows[0]
        row_headers = [r[0] for r in rows]
        col_metrics = [_header_metric(col_headers[j], [r[j] for r in rows[1:]]) for j in range(width)]
        row_metrics = [_header_metric(row_headers[i], rows[i][1:]) for i in range(len(rows))]
        col_score = sum(1 for m in col_metrics[1:] if m and m[0] in _TABLE_METRICS)
        row_score = sum(1 for m in row_metrics[1:] if m and m[0] in _TABLE_METRICS)
        if width == 2 and col_score == 0:
            self._table_as_fields(rows, block, where)  # "question | answer" or "field | value"
            return
        if col_score == 0 and row_score == 0:
            return
        if block.rows_dropped:
            self.quarantine_item(
                where,
                f"{block.rows_dropped} rows",
                f"table longer than {MAX_TABLE_ROWS} rows; the rest was not read",
            )
        if col_score >= row_score:
            entities = [(i, rows[i][0]) for i in range(1, len(rows))]
            for j in range(1, width):
                if col_metrics[j]:
                    for i, label in entities:
                        place = f"{where}, {_place('row', label, i)}, {_place('column', col_headers[j], j)}"
                        self._table_cell(
                            rows[i][j], col_metrics[j], label, col_headers[j], True, block, place, context
                        )
        else:
            for i in range(1, len(rows)):
                if row_metrics[i]:
                    for j in range(1, width):
                        row_place, col_place = (
                            _place("row", row_headers[i], i),
                            _place("column", col_headers[j], j),
                        )
                        place = f"{where}, {row_place}, {col_place}"
                        self._table_cell(
                            rows[i][j],
                            row_metrics[i],
                            col_headers[j],
                            row_headers[i],
                            False,
                            block,
                            place,
                            context,
                        )

    def _table_as_fields(self, rows: list[list[str]], block: Block, where: str) -> None:
        for number, row in enumerate(rows):
            key, value = row[0], row[1]
            kind = classify_key(key)
            if kind:
                locator = f"{where}, {_place('row', key, number)}"
                self.read_field(key, value, kind, block, context=key, locator=locator)

    def _table_cell(
        self,
        cell: str,
        metric_unit: tuple[str, str | None],
        label: str,
        header: str,
        label_is_model: bool,
        block: Block,
        locator: str,
        context: str,
    ) -> None:
        cell = cell.strip()
        if t.is_placeholder(cell) or cell in ("\\-", "-", "–", "—"):
            return
        metric, unit = metric_unit
        label_text = t.clean_text(label, 120)
        if _COMPARISON.search(label_text) and metric == "emissions":
            return  # a comparison row ("Car, avg incl. fuel, 1 lifetime", "Air travel, 1 passenger")
        is_total = bool(_TOTAL_LABEL.match(label_text))
        entity: dict = {"is_total": is_total}
        if not is_total and label_text:
            numeric_label = re.fullmatch(r"[\d.,\s]+[kKMBT]?", label_text) is not None
            if label_is_model and not numeric_label:
                entity["model_name"] = label_text
            else:
                entity["variant"] = label_text
        details = self._context_details(f"{header} {label}", context)
        cell_text = t.strip_footnote(cell)
        quantity = t.leading_quantity(cell_text)
        if quantity is not None and quantity.end >= len(cell_text.rstrip()) - 40:
            if quantity.metric == metric or unit is None or quantity.metric in _TABLE_METRICS:
                self.add_figure(
                    quantity.metric,
                    quantity.value_text,
                    quantity.unit_text,
                    locator,
                    "table",
                    section=block.section,
                    **entity,
                    **details,
                )
                return
        number = t.leading_number(cell_text)
        if (
            number is not None
            and unit is not None
            and re.fullmatch(r"[\s~≈<>*]*|\s*\([^)]*\)\s*", cell_text.replace(number, "", 1))
        ):
            self.add_figure(
                metric, number, unit, locator, "table", section=block.section, **entity, **details
            )
            return
        parts = t.find_quantities(cell_text)
        if len(parts) > 1 or (parts and quantity is None):
            # several stages in one cell: "Stage 1 pretraining: 147K H100 hours SFT: 896 H100 hours"
            previous_end = 0
            for part in parts:
                part_label = cell_text[previous_end : part.start].strip(" :;,")
                previous_end = part.end
                part_details = self._context_details(f"{part_label} {header} {label}", context)
                part_entity = dict(entity)
                if part_label:
                    part_entity["variant"] = t.clean_text(part_label, 80)
                self.add_figure(
                    part.metric,
                    part.value_text,
                    part.unit_text,
                    f"{locator}, part '{t.clean_text(part_label, 80)}'",
                    "table",
                    section=block.section,
                    **part_entity,
                    **part_details,
                )
            return
        self.quarantine_item(locator, cell, f"{metric} cell is not a number")


def _header_metric(header: str, cells: list[str]) -> tuple[str, str | None] | None:
    """(metric, unit printed in the header or None) for a table header naming a quantity."""
    if not header or len(header) > 200:
        return None
    core = normalize_key(header)
    if re.search(r"\brate\b|\bper\b|%|percent|reduction|\bsaving|time[- ]to|latency|tokens?/|/s\b", core):
        return None
    unit = unit_in_key(header)
    if unit is None:
        bracket = re.search(r"\[([^\]]{1,30})\]", header)
        if bracket and t.metric_for_unit(bracket.group(1)):
            unit = bracket.group(1)
    if unit is not None:
        metric = t.metric_for_unit(unit)
        if metric == "duration" and re.search(r"gpu|tpu|chip|accelerator", header, re.I):
            metric = "chip_hours"
        return (metric, unit) if metric else None
    kind = classify_key(header)
    if kind not in METRIC_KINDS:
        return None
    # no unit in the header: the cells must print theirs ("135 MWh")
    for cell in cells:
        quantity = t.leading_quantity(t.strip_footnote(cell))
        if quantity is not None:
            return quantity.metric, None
    return None


def _implied_unit(kind: str, key: str) -> str | None:
    """A unit the field name itself states: 'Hours used' -> hours, 'GPU hours' -> GPU hours."""
    if kind == "hours":
        match = re.search(r"(?:gpu|tpu|chip)[\s-]?hours|hours|days", key, re.I)
        return match.group(0) if match else None
    if kind == "pue":
        return "ratio"
    if kind == "chip_count":
        return re.sub(
            r"^.*?(gpus|tpus|chips|accelerators|devices|gpu|tpu|chip|accelerator).*$", r"\1", key, flags=re.I
        )
    return None


def _printed_hours(value: str, key_unit: str | None) -> str | float | int | None:
    """The hours field as printed: a number when printed as a bare number, else the printed text."""
    value = value.strip()
    if t.is_placeholder(value):
        return None
    number = t.leading_number(value)
    if number is not None and number.strip() == value:
        if key_unit and not re.fullmatch(r"hours?|hrs?|h", key_unit, re.I):
            return f"{value} {key_unit}"
        try:
            as_float = float(value)
            return int(as_float) if as_float.is_integer() and "." not in value else as_float
        except ValueError:
            return value
    if len(value) <= 30:
        return value
    quantity = t.leading_quantity(value)
    if quantity is not None:  # "0.0013 h (re-training measured above)" -> "0.0013 h"
        return value.lstrip()[quantity.start : quantity.end]
    quantities = [q for q in t.find_quantities(value) if q.metric in ("duration", "chip_hours")]
    if quantities:  # a sentence: its last duration is usually the conclusion ("... less than 1.5h")
        return value[quantities[-1].start : quantities[-1].end]
    return None  # a sentence without a duration: nothing to print as hours


def _label(item_text: str) -> str:
    """An enclosing list item named by its field name ('Training:' -> 'Training'), never by its prose."""
    label = t.clean_text(item_text.split(":", 1)[0], 80).strip(" *")
    return label if len(label) <= 40 else "item"


def _place(kind: str, label: str, index: int) -> str:
    """ "row 'Llama 2 7B'"; a long label (a question, a sentence) is named by its position instead."""
    label = t.clean_text(label, 200)
    return f"{kind} '{label}'" if label and len(label) <= 80 else f"{kind} {index}"


def _sentences(text: str) -> list[str]:
    return [s for s in _SENTENCE_END.split(text) if s.strip()]
