"""parse_card: one model card -> CardResult (headline emissions, every figure, conflicts, quarantine).

Headline rule: the front matter's `co2_eq_emissions` when it holds
a valid value (the Hub's machine-readable field, grams unless a unit is printed); otherwise, from the body
and in this order, the first emissions field ("Carbon Emitted: ..."), the first prose statement
(location-based before market-based), a table's Total row, the table row naming the card's model, or the
only model row of the card's emissions tables. Inference, per-sample, development ("all experiments")
and configuration/checkpoint figures are never headlines. Disagreements are kept and described in
`conflicts`; the headline stays the rule's pick.
"""

from __future__ import annotations

import re
from pathlib import Path

from pipelines.lib import units
from pipelines.lib.cards import body, frontmatter
from pipelines.lib.cards import text as t
from pipelines.lib.cards.extract import Extractor, stage_for_training_type
from pipelines.lib.cards.result import CardResult, Figure, QuarantineItem

MAX_CARD_BYTES = 1024 * 1024  # bytes of a card that are parsed; the rest is ignored, with a quarantine row
MAX_PLAUSIBLE_TCO2E = 1e6  # one megatonne: far above any disclosed training run; larger is a typo or hostile
_HEADLINE_STAGES = ("pretraining", "fine-tuning", "total")
_GENERIC_HEADING = re.compile(
    r"^\W*(?:model (?:details|information|description|summary|overview)|model ?card(?: for| of)?|overview|"
    r"introduction|summary|table of contents|usage|uses|about|description|intended use|license|citation|"
    r"training|evaluation)\W*$",
    re.I,
)
_ENV = re.compile(r"environment|carbon|emission|co2|co₂|footprint|energy|sustainab|climate", re.I)


def parse_card_file(path: str | Path) -> CardResult:
    """Read at most MAX_CARD_BYTES (+1, to know it was cut) of a file and parse it."""
    path = Path(path)
    with path.open("rb") as handle:
        data = handle.read(MAX_CARD_BYTES + 1)
    size = path.stat().st_size
    result = parse_card(data, path=str(path))
    if size > result.bytes_total:
        result.bytes_total = size
        for item in result.quarantine:
            if item.locator == "card" and item.reason.startswith("card larger than"):
                item.item = f"{size} bytes"
    return result


def parse_card(text: str | bytes, *, path: str | None = None) -> CardResult:
    """Parse one model card (Markdown with optional YAML front matter); never raises on bad input."""
    decoded = t.decode_card(text, MAX_CARD_BYTES)
    result = CardResult(path=path, bytes_total=decoded.bytes_total, bytes_parsed=decoded.bytes_parsed)
    if decoded.bytes_total > decoded.bytes_parsed:
        result.quarantine.append(
            QuarantineItem(
                "card",
                f"{decoded.bytes_total} bytes",
                f"card larger than {MAX_CARD_BYTES} bytes; only the first {MAX_CARD_BYTES} bytes were parsed",
            )
        )
    if decoded.invalid_utf8_at is not None:
        result.quarantine.append(
            QuarantineItem(
                "card",
                f"byte offset {decoded.invalid_utf8_at}",
                f"invalid UTF-8 ({decoded.invalid_utf8_count} sequence(s)); decoded with U+FFFD replacement",
            )
        )

    fm = frontmatter.split(decoded.text)
    result.quarantine.extend(QuarantineItem(p.locator, p.item, p.reason) for p in fm.problems)
    extractor = Extractor()
    meta = fm.data or {}
    _read_front_matter(meta, fm.root, extractor)

    markdown = fm.body if fm.rescan is None else f"{fm.body}\n\n{fm.rescan}"  # rescan last: not a title
    try:
        blocks, note = body.parse(markdown)
    except (RecursionError, ValueError) as err:  # a parser limit hit by hostile input
        blocks, note = (
            body.plain_blocks(markdown),
            f"body could not be parsed as Markdown ({err!r:.120}); read as plain text",
        )
    if note:
        result.quarantine.append(QuarantineItem("body", "Markdown", note))
    extractor.read_blocks(blocks)
    result.quarantine.extend(extractor.quarantine)

    _card_fields(result, extractor, meta, blocks)
    _resolve_stages(result, extractor.figures, meta, blocks)
    figures = [f for f in extractor.figures if _plausible(f, result)]
    headline = _choose_headline(figures, result.model_name)
    if headline is not None:
        headline.is_headline = True
        result.emissions_kg = _kg(headline)
        result.stage = headline.stage
        result.headline_locator = headline.locator
        if result.training_type is None and headline.stage_source in ("stated", "context"):
            result.training_type = _stage_words(headline, blocks)
    elif [f for f in figures if f.metric == "emissions" and f.model_name and f.per is None]:
        result.conflicts.append(
            "the card gives emissions for several models and no total; no headline chosen"
        )
    result.conflicts.extend(_conflicts(figures, headline, extractor))
    if any(f.metric in ("emissions", "energy") for f in figures):
        result.figures = sorted(figures, key=lambda f: f.order)
    elif result.source is not None and not any(
        c.priority == 0 for c in extractor.fields if c.kind == "source"
    ):
        result.source = None  # a tool named in passing ("CodeCarbon for tracking") with nothing measured
    return result


# --- front matter ----------------------------------------------------------------------------------------


def _read_front_matter(meta: dict, root, ex: Extractor) -> None:
    co2 = meta.get("co2_eq_emissions")
    if co2 is None:
        return
    if isinstance(co2, dict):
        if "emissions" not in co2:
            ex.quarantine_item("co2_eq_emissions", "mapping", "co2_eq_emissions has no 'emissions' key")
        else:
            _yaml_emissions(
                co2.get("emissions"),
                frontmatter.scalar_node(root, "co2_eq_emissions", "emissions"),
                "co2_eq_emissions.emissions",
                co2.get("training_type"),
                ex,
            )
        for key, kind in (
            ("source", "source"),
            ("training_type", "training_type"),
            ("geographical_location", "location"),
            ("cloud_region", "location"),
            ("hardware_used", "hardware"),
            ("gpu_model", "hardware"),
            ("cpu_model", "hardware"),
            ("cloud_provider", "provider"),
        ):
            value = co2.get(key)
            if isinstance(value, (dict, list)) and kind != "hardware":
                ex.quarantine_item(
                    f"co2_eq_emissions.{key}",
                    type(value).__name__,
                    f"co2_eq_emissions.{key} is a {type(value).__name__}, expected text",
                )
                continue
            ex.add_field(kind, t.printed_field(value), f"co2_eq_emissions.{key}", 0)
        if co2.get("hours_used") is not None:
            hours = co2["hours_used"]
            ex.add_field(
                "hours",
                hours
                if isinstance(hours, (int, float)) and not isinstance(hours, bool)
                else t.printed_field(hours),
                "co2_eq_emissions.hours_used",
                0,
            )
            _yaml_amount(hours, root, "hours_used", "duration", "hours", co2.get("training_type"), ex)
        if co2.get("energy_consumed") is not None:
            # sentence-transformers and SetFit write CodeCarbon's energy, which CodeCarbon reports in kWh
            _yaml_amount(
                co2["energy_consumed"], root, "energy_consumed", "energy", "kWh", co2.get("training_type"), ex
            )
    elif isinstance(co2, (list, tuple)):
        ex.quarantine_item(
            "co2_eq_emissions",
            "list",
            "co2_eq_emissions is a list; expected a number or a mapping with 'emissions'",
        )
    else:
        _yaml_emissions(co2, frontmatter.scalar_node(root, "co2_eq_emissions"), "co2_eq_emissions", None, ex)


def _yaml_emissions(value, node, locator: str, training_type, ex: Extractor) -> None:
    """The Hub field: a number in grams, or a string that may print its own unit ('0.5 kg', '12,3 g')."""
    stage = (
        stage_for_training_type(t.printed_field(training_type)) if isinstance(training_type, str) else None
    )
    details = {"stage": stage, "stage_source": "stated"} if stage else {}
    printed = node.value if node is not None else str(value)
    if isinstance(value, bool) or value is None or isinstance(value, (dict, list)):
        if value is not None:
            ex.quarantine_item(
                locator,
                t.clean_text(value, 100),
                f"{locator} is a {type(value).__name__}, expected a number of grams",
            )
        return
    if isinstance(value, (int, float)):
        ex.add_figure(
            "emissions",
            t.clean_text(printed, 60),
            "g",
            locator,
            "front_matter",
            number=value,
            section="front matter",
            **details,
        )
        return
    text_value = t.clean_text(value, 200)
    if re.fullmatch(r"[+-]?\.?(?:nan|inf|infinity)", text_value.strip(), re.I):
        ex.quarantine_item(locator, text_value, f"{locator} is not a finite number")
        return
    if t.is_placeholder(text_value):
        return
    quantity = t.leading_quantity(text_value)
    if quantity is None:
        match = re.match(r"^\s*(?P<n>[\d.,]+(?:[eE][-+]?\d+)?)\s+in\s+(?P<u>.+)$", text_value)
        if match and t.metric_for_unit(match.group("u")):  # "0.21 in grams of CO2"
            quantity = t.Quantity(
                match.group("n"),
                match.group("u"),
                t.metric_for_unit(match.group("u")),
                0,
                len(text_value),
                False,
            )
    if quantity is not None:
        if quantity.metric != "emissions":
            ex.quarantine_item(locator, text_value, f"{locator} prints a {quantity.metric} unit, not a mass")
            return
        ex.add_figure(
            "emissions",
            quantity.value_text,
            quantity.unit_text,
            locator,
            "front_matter",
            section="front matter",
            **details,
        )
        return
    number = t.leading_number(text_value)
    if number is not None and number == text_value.strip():
        ex.add_figure("emissions", number, "g", locator, "front_matter", section="front matter", **details)
        return
    ex.quarantine_item(
        locator, text_value, f"{locator} is not a number of grams nor a number with a mass unit"
    )


def _yaml_amount(value, root, key: str, metric: str, unit: str, training_type, ex: Extractor) -> None:
    if isinstance(value, bool) or not isinstance(value, (int, float, str)):
        return
    node = frontmatter.scalar_node(root, "co2_eq_emissions", key)
    stage = stage_for_training_type(training_type) if isinstance(training_type, str) else None
    details = {"stage": stage, "stage_source": "stated"} if stage else {}
    printed = t.clean_text(node.value if node is not None else value, 60)
    number = value if isinstance(value, (int, float)) else None
    if number is None and t.leading_number(printed) != printed:
        ex.quarantine_item(f"co2_eq_emissions.{key}", printed, f"co2_eq_emissions.{key} is not a number")
        return
    ex.add_figure(
        metric,
        printed,
        unit,
        f"co2_eq_emissions.{key}",
        "front_matter",
        number=number,
        section="front matter",
        **details,
    )


# --- card-level fields -----------------------------------------------------------------------------------


def _card_fields(result: CardResult, ex: Extractor, meta: dict, blocks: list[body.Block]) -> None:
    def best(kind: str):
        candidates = [c for c in ex.fields if c.kind == kind]
        return min(candidates, key=lambda c: (c.priority, c.order)).value if candidates else None

    result.source = best("source")
    result.training_type = best("training_type")
    result.hardware = best("hardware")
    result.location = best("location")
    result.cloud_provider = best("provider")
    result.hours = best("hours")
    if result.source is None and _is_autotrain(meta, blocks):
        tags = " ".join(str(x) for x in _as_list(meta.get("tags"))).lower()
        result.source = "AutoNLP" if "autonlp" in tags else "AutoTrain"
    result.model_name = _model_name(meta, blocks)


def _model_name(meta: dict, blocks: list[body.Block]) -> str | None:
    if isinstance(meta.get("model_name"), str):
        return t.printed_field(meta["model_name"])
    index = meta.get("model-index")
    if (
        isinstance(index, list)
        and index
        and isinstance(index[0], dict)
        and isinstance(index[0].get("name"), str)
    ):
        return t.printed_field(index[0]["name"])
    for position, block in enumerate(blocks):
        if block.kind != "heading":
            continue
        card_for = re.match(r"^\s*model\s?card (?:for|of)\s*[:\-–]?\s*(.+)$", block.text, flags=re.I)
        if card_for:
            return t.printed_field(card_for.group(1))
        if position == 0 and block.level == 1 and not _GENERIC_HEADING.match(block.text):
            return t.printed_field(block.text)  # a title: the card's first block, a top-level heading
    return None


def _is_autotrain(meta: dict, blocks: list[body.Block]) -> bool:
    tags = " ".join(str(x) for x in _as_list(meta.get("tags"))).lower()
    if "autotrain" in tags or "autonlp" in tags:
        return True
    return any(
        b.kind == "heading" and re.search(r"\bautotrain\b|\bautonlp\b", b.text, re.I) for b in blocks[:3]
    )


def _as_list(value) -> list:
    if isinstance(value, list):
        return value[:200]
    return [value] if isinstance(value, str) else []


def _resolve_stages(result: CardResult, figures: list[Figure], meta: dict, blocks: list[body.Block]) -> None:
    """Figures with no stage of their own take the card's: its training type, else 'fine-tuning' for a
    model trained from a base model (base_model metadata, AutoTrain), else 'total'."""
    card_stage = (
        stage_for_training_type(result.training_type) if isinstance(result.training_type, str) else None
    )
    if card_stage is None and (meta.get("base_model") or _is_autotrain(meta, blocks)):
        card_stage = "fine-tuning"
    for figure in figures:
        if figure.stage is None:
            figure.stage, figure.stage_source = "total", "default"
        if figure.stage_source == "default" and card_stage:
            figure.stage, figure.stage_source = card_stage, "card"


def _stage_words(figure: Figure, blocks: list[body.Block]) -> str | None:
    from pipelines.lib.cards.extract import stage_cue

    for text in (figure.locator, figure.variant or ""):
        cue = stage_cue(text)
        if cue:
            return cue[1]
    for block in blocks:
        if block.kind in ("paragraph", "item") and block.section == figure.section:
            cue = stage_cue(block.text)
            if cue and cue[0] == figure.stage:
                return cue[1]
    return None


# --- headline and conflicts ------------------------------------------------------------------------------


def _plausible(figure: Figure, result: CardResult) -> bool:
    if figure.metric == "emissions" and figure.value > MAX_PLAUSIBLE_TCO2E:
        result.quarantine.append(
            QuarantineItem(
                figure.locator,
                f"{figure.value_as_printed} {figure.unit_as_printed or ''}".strip(),
                f"emissions above {MAX_PLAUSIBLE_TCO2E:g} tCO2e are implausible for one model; not used",
            )
        )
        return False
    return True


def _eligible(figure: Figure) -> bool:
    return (
        figure.metric == "emissions"
        and figure.per is None
        and figure.stage in _HEADLINE_STAGES
        and figure.variant is None
    )


def _choose_headline(figures: list[Figure], model_name: str | None) -> Figure | None:
    yaml_figures = [f for f in figures if f.metric == "emissions" and f.origin == "front_matter"]
    if yaml_figures:
        return yaml_figures[0]
    return _best_body_figure(figures, model_name)


def _best_body_figure(figures: list[Figure], model_name: str | None) -> Figure | None:
    eligible = [f for f in figures if _eligible(f) and f.origin != "front_matter"]

    def env_first(f: Figure) -> tuple:
        return (f.basis == "market-based", not _ENV.search(f.section or ""), f.order)

    for origin in ("field", "prose"):
        own = [f for f in eligible if f.origin == origin and f.model_name is None]
        if own:
            return min(own, key=env_first)
    tables = [f for f in eligible if f.origin == "table"]
    totals = [f for f in tables if f.is_total]
    if totals:
        return min(totals, key=env_first)
    if model_name:
        wanted = _name_key(model_name)
        named = [f for f in tables if f.model_name and _name_key(f.model_name) == wanted]
        if named:
            return min(named, key=env_first)
    rows = [f for f in tables if f.basis != "market-based"]
    if len({f.model_name for f in rows}) == 1 and len(rows) == 1:
        return rows[0]
    return None


def _name_key(name: str) -> str:
    return re.sub(r"[^a-z0-9.]+", " ", name.lower()).strip()


def _kg(figure: Figure) -> float:
    return float(f"{figure.value * 1000:.12g}")


def _resolution(figure: Figure) -> float:
    try:
        factor = units.unit_factor(figure.metric, figure.unit_as_printed)
    except units.UnitError:
        return 0.0
    return units.printed_resolution(figure.value_as_printed) * factor


def consistent(a: Figure, b: Figure) -> bool:
    """Equal up to 1%, or up to one unit of the last digit printed (rounding or truncation)."""
    tolerance = max(0.01 * max(abs(a.value), abs(b.value)), _resolution(a), _resolution(b))
    return abs(a.value - b.value) <= tolerance * (1 + 1e-9)


def _describe(figure: Figure) -> str:
    return f"{figure.value_as_printed} {figure.unit_as_printed or ''} at {figure.locator}".replace("  ", " ")


def _comparable(a: Figure, b: Figure) -> bool:
    """Two figures that should state the same amount: same model (or a total), compatible basis and stage."""
    if b.model_name is not None and not b.is_total:
        return False
    if {a.basis, b.basis} == {"location-based", "market-based"}:
        return False
    loose = {"default", "card"}
    return a.stage == b.stage or a.stage_source in loose or b.stage_source in loose


def _table_sum_conflicts(figures: list[Figure], headline: Figure) -> list[str]:
    """A stated total against the sum of a table's model rows, for tables that print no Total row."""
    by_table: dict[str, list[Figure]] = {}
    for f in figures:
        if (
            f.origin == "table"
            and f.metric == "emissions"
            and f.per is None
            and {f.basis, headline.basis} != {"location-based", "market-based"}
        ):
            by_table.setdefault(f.locator.split(",")[0], []).append(f)
    notes = []
    for table, rows in by_table.items():
        models = [f for f in rows if f.model_name and not f.is_total]
        if not models or any(f.is_total for f in rows):
            continue
        total = sum(f.value for f in models)
        tolerance = max(
            0.01 * max(headline.value, total), _resolution(headline), sum(map(_resolution, models))
        )
        if abs(total - headline.value) > tolerance:
            names = ", ".join(f"{f.model_name} {f.value_as_printed}" for f in models[:6])
            notes.append(
                f"{_describe(headline)} disagrees with the rows of {table} ({names}; sum {total:g} tCO2e)"
            )
    return notes


def _conflicts(figures: list[Figure], headline: Figure | None, ex: Extractor) -> list[str]:
    if headline is None:
        return []
    notes: list[str] = []
    for other in figures:
        if other is headline or not _eligible(other) or not _comparable(headline, other):
            continue
        if consistent(headline, other):
            continue
        ratio = other.value / headline.value if headline.value else 0.0
        if headline.origin == "front_matter" and 900 <= ratio <= 1100:
            notes.append(
                f"{_describe(headline)} (grams per the Hub's convention) is 1/1000 of {_describe(other)}:"
                " the front-matter field probably holds kilograms"
            )
        elif headline.origin == "front_matter" and ratio and 900 <= 1 / ratio <= 1100:
            notes.append(
                f"{_describe(headline)} is 1000 times {_describe(other)}: a unit slip in one of them"
            )
        else:
            notes.append(f"{_describe(headline)} disagrees with {_describe(other)}")
    if headline.origin != "table":
        notes.extend(_table_sum_conflicts(figures, headline))
    location = [c for c in ex.fields if c.kind == "location"]
    stated = next((c for c in location if c.priority == 0), None)
    beside = [c for c in location if c.locator.endswith("(beside the emissions figure)")]
    for other in beside:
        if (
            stated
            and _name_key(str(stated.value)) not in _name_key(str(other.value))
            and _name_key(str(other.value)) not in _name_key(str(stated.value))
        ):
            notes.append(
                f"location: {stated.locator} says '{stated.value}', {other.locator} says '{other.value}'"
            )
    return notes
