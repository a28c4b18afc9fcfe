"""Text helpers for model cards: decoding, placeholders, and finding printed quantities (number + unit).

A quantity is found with one regular expression per unit family; each pattern is linear (no nested
repetition), so a hostile multi-megabyte line costs time proportional to its length.
"""

from __future__ import annotations

import codecs
import math
import re
from dataclasses import dataclass

from pipelines.lib import units

MAX_FIELD_CHARS = 500  # printed strings (hardware, location, ...) longer than this are cut, ending in "…"

# --- decoding -------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Decoded:
    text: str
    bytes_total: int
    bytes_parsed: int
    invalid_utf8_at: int | None  # offset of the first invalid byte, if any
    invalid_utf8_count: int


def decode_card(data: bytes | str, max_bytes: int) -> Decoded:
    """Bytes or text -> text, keeping at most `max_bytes` bytes; invalid UTF-8 becomes U+FFFD (counted)."""
    if isinstance(data, str):
        # A str read with surrogateescape carries its invalid bytes as lone surrogates: restore them so
        # they are reported below; any other lone surrogate is encoded as (invalid) UTF-8 bytes too.
        try:
            data = data.encode("utf-8", errors="surrogateescape")
        except UnicodeEncodeError:
            data = data.encode("utf-8", errors="surrogatepass")
    total = len(data)
    head = data[:max_bytes]
    if head.startswith(codecs.BOM_UTF8):
        head = head[len(codecs.BOM_UTF8) :]
    first_bad: int | None = None
    count = 0
    try:
        head.decode("utf-8")
    except UnicodeDecodeError as err:
        first_bad = err.start
        # Count invalid sequences cheaply: a strict pass per error would be quadratic on hostile input.
        count = head.decode("utf-8", errors="replace").count("\ufffd") - head.decode(
            "utf-8", errors="ignore"
        ).count("\ufffd")
    # The incremental decoder leaves a multi-byte character cut by the size cap undecoded instead of
    # reporting it as invalid.
    decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
    text = decoder.decode(head, final=total <= max_bytes)
    if first_bad is not None and total > max_bytes and first_bad >= len(head) - 3 and count <= 1:
        first_bad, count = None, 0  # only the cut character at the cap: not invalid UTF-8
    text = text.replace("\x00", "\ufffd")
    return Decoded(text, total, min(total, max_bytes), first_bad, count)


# --- printed strings ------------------------------------------------------------------------------------

_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
_PLACEHOLDER_WORDS = frozenset(
    "|-|--|—|–|?|n/a|na|n.a.|nan|none|null|nil|unknown|tbd|tba|todo|optional|more information needed|"
    "more info needed|needs more information|more information required|information needed|not available|"
    "not reported|not known|not specified|unspecified|to be determined|to be announced|to be measured|"
    "forthcoming|coming soon|pending|missing|falta|your answer|xxx|...|…".split("|")
)


def clean_text(value: object, limit: int = MAX_FIELD_CHARS) -> str:
    """A printed value as inert, single-line text: control characters dropped, whitespace collapsed."""
    text = _CONTROL.sub(" ", str(value))
    text = re.sub(r"\s+", " ", text).strip().rstrip(",;")
    if len(text) > limit:
        text = text[:limit].rstrip() + "…"
    return text


def is_placeholder(text: str | None) -> bool:
    """True for template placeholders and 'no value' words: [More Information Needed], N/A, TBD, ..."""
    if text is None:
        return True
    s = str(text).strip()
    if re.fullmatch(r"\{\{.*\}\}|\{%.*%\}", s, flags=re.DOTALL):
        return True  # an unrendered Jinja template variable
    if re.fullmatch(r"\[[^\]]*\]", s):
        return True  # a bracketed template hint: "[More Information Needed]", "[e.g., NVIDIA V100]"
    s = re.sub(r"^[\s*_`\[\](){}<>:.\"']+|[\s*_`\[\](){}<>:.\"']+$", "", s).lower()
    s = re.sub(r"\s+", " ", s)
    if s in _PLACEHOLDER_WORDS:
        return True
    return bool(re.match(r"(more information|needs more information|information) needed\b", s))


def printed_field(value: object) -> str | None:
    """A YAML scalar or body value as printed text, or None when absent or a placeholder."""
    if value is None or isinstance(value, bool):
        return None
    if isinstance(value, (list, tuple)):
        # one level only: a YAML alias can make a list contain itself
        parts = [printed_field(v) for v in value[:50] if isinstance(v, (str, int, float))]
        value = "; ".join(p for p in parts if p)
    elif not isinstance(value, (str, int, float)):
        return None
    text = clean_text(value)
    return None if is_placeholder(text) else text


# --- quantities ------------------------------------------------------------------------------------------

_CO2 = r"(?:CO ?2|CO₂|CO_2|CO\$_\{?2\}?\$|CO<sub>2</sub>)"  # "CO 2": a <sub> flattened with a space
# "CO2", "CO2eq", "CO2 eq.", "CO2-equivalents", "of CO2"; "eqof" occurs glued in one card.
_CO2_SUFFIX = (
    rf"(?:\s*-?\s*(?:of\s+)?{_CO2}(?:\s*-?\s*(?:eq(?:uivalents?)?|e)(?=[^a-z]|of|$))?"
    rf"|\s+of\s+{_CO2}\b)"
)
_MASS = (
    r"(?:metric\s+)?(?:tonnes|tonne|tons|ton)|kilo\s?grams?|grams?|milli\s?grams?|pounds|lbs?|kgs?|mg|kt"
    rf"|t(?={_CO2_SUFFIX})|g"
)
_MASS_UNIT = rf"(?:{_MASS})(?:{_CO2_SUFFIX}|(?![a-z]))"
_ENERGY_UNIT = r"(?:[kmgt]?wh)(?![a-z])"
_POWER_UNIT = r"(?:[km]?w)(?![a-z0-9])"
_CHIP = r"(?:gpu|tpu|chip|accelerator|[a-z]{1,2}\d{2,4}[a-z]?(?:[-\s]\w+gb)?|tpu\s?v\d\w?)"
_CHIP_HOURS_UNIT = rf"(?:{_CHIP}[\s-]?){{1,3}}(?:hours?|hrs?|h|days?)(?![a-z])"
_DURATION_UNIT = r"(?:hours?|hrs?|h|days?|weeks?|months?|minutes?|mins?|seconds?|secs?|s)(?![a-z])"
_INTENSITY_UNIT = rf"(?:{_MASS})(?:{_CO2_SUFFIX})?\s*(?:/|per)\s*[kmg]?wh(?![a-z])"

_NUMBER = (
    r"(?:\d{1,3}(?:[, \u202f\u00a0\u2009]\d{3})+(?!\d)(?:\.\d+)?|\d+(?:[.,]\d+)?(?:[eE][-+]?\d+)?|\.\d+)"
    r"(?:\s?(?:[kKMB](?![a-zA-Z])|thousand\b|million\b|billion\b))?"
)
_QUALIFIER = r"(?:(?:~|≈|<|>|about|approximately|approx\.|around|less than|more than|over)\s*)?"

UNIT_PATTERNS: dict[str, str] = {
    # order matters: the first family whose unit matches right after the number wins
    "carbon_intensity": _INTENSITY_UNIT,
    "emissions": _MASS_UNIT,
    "energy": _ENERGY_UNIT,
    "chip_hours": _CHIP_HOURS_UNIT,
    "power": _POWER_UNIT,
    "duration": _DURATION_UNIT,
}
_QUANTITY = re.compile(
    rf"(?<![\w.,])(?P<value>{_QUALIFIER}{_NUMBER})(?:\s?\*+)?\s*(?:"
    + "|".join(f"(?P<{m}>{p})" for m, p in UNIT_PATTERNS.items())
    + ")",
    re.IGNORECASE,
)
_RATE_AFTER = re.compile(
    r"\s*(?:CO ?2\s*(?:eq|e)?\.?\s*)?(?:/|per\b|a\s+(?:year|day|km|mile)\b|each\b|every\b)", re.IGNORECASE
)
# words a field value may print before its number: "Total of 18644.86s", "Estimated <1kg CO2"
_LEADING_WORDS = frozenset(
    "|total|total of|total:|a total of|approximately|approx.|about|around|roughly|circa|ca.|"
    "estimated|est.|~|≈".split("|")
)
_LEADING_NUMBER = re.compile(
    rf"^\s*(?:total of\s+)?(?P<value>{_QUALIFIER}{_NUMBER})(?:\s?\*+)?", re.IGNORECASE
)


@dataclass(frozen=True)
class Quantity:
    value_text: str
    unit_text: str
    metric: str
    start: int
    end: int
    is_rate: bool  # followed by "/km", "per year", ...: a rate, not an amount


def find_quantities(text: str, metrics: tuple[str, ...] | None = None) -> list[Quantity]:
    """Every number followed by a unit in `text` (optionally only the given unit families)."""
    found = []
    for match in _QUANTITY.finditer(text):
        metric = next(m for m in UNIT_PATTERNS if match.group(m) is not None)
        if metrics is not None and metric not in metrics:
            continue
        unit = match.group(metric).strip()
        found.append(
            Quantity(
                match.group("value").strip(),
                unit,
                metric,
                match.start(),
                match.end(),
                bool(_RATE_AFTER.match(text, match.end())) and metric != "carbon_intensity",
            )
        )
    return found


def leading_quantity(text: str) -> Quantity | None:
    """The quantity a field value starts with ('0.11g CO2eq (…)', 'Total of 18644.86s'), if any."""
    stripped = text.lstrip()
    for q in find_quantities(stripped[:400]):
        prefix = stripped[: q.start].strip().lower()
        if prefix in _LEADING_WORDS:
            return q
        break
    return None


def leading_number(text: str) -> str | None:
    """A bare number a value starts with (no unit): '150000', '72 (3 days)' -> '72'."""
    match = _LEADING_NUMBER.match(text)
    if not match:
        return None
    rest = text[match.end() :]
    if re.match(r"\s*[A-Za-z%$€£]|:\d", rest):
        return None  # followed by a word we do not know as a unit, or a clock time ("00:31:54")
    if is_range(text):
        return None
    return match.group("value").strip()


def is_range(text: str) -> bool:
    """'960 - 1080 hours', '40-45 days', '350 to 400 W': two values, not one."""
    return re.match(rf"^\s*{_QUALIFIER}{_NUMBER}\s*(?:-|–|—|to)\s*\d", text, re.IGNORECASE) is not None


def is_compound(text: str, quantity: Quantity) -> bool:
    """'118 days, 5 hours, 41 min', '3 hours and 26 minutes': one duration printed in several units."""
    rest = text[quantity.end : quantity.end + 40]
    return (
        quantity.metric == "duration"
        and re.match(
            rf"^\s*(?:,|and)\s*(?:and\s+)?\d+(?:[.,]\d+)?\s*(?:{_DURATION_UNIT})", rest, re.IGNORECASE
        )
        is not None
    )


def strip_footnote(value: str) -> str:
    """'0*' -> '0', '240**' -> '240', '12.9†' -> '12.9': footnote markers after a printed number."""
    return re.sub(r"(?<=\d)\s*(?:\*+|[†‡§¹²³]+|\[\d+\])$", "", value.strip())


# --- normalization ---------------------------------------------------------------------------------------


class ValueProblem(ValueError):
    """A printed figure that cannot become a valid number (the message is the quarantine reason)."""


def to_number(value_text: str) -> tuple[float, str | None]:
    """units.parse_number plus the checks a disclosed amount needs (finite, not negative)."""
    text = value_text.strip()
    if re.fullmatch(r"[+-]?0,\d+", text):
        text = text.replace(",", ".")  # '0,123' is a decimal comma, never thousands
    lowered = text.lower().lstrip("+-~≈<> ")
    if lowered in ("nan", "inf", "infinity", ".nan", ".inf"):
        raise ValueProblem(f"not a finite number: {value_text!r}")
    try:
        number, qualifier = units.parse_number(text)
    except units.UnitError as err:
        raise ValueProblem(str(err)) from None
    if not math.isfinite(number):
        raise ValueProblem(f"not a finite number: {value_text!r}")
    if number < 0:
        raise ValueProblem(f"negative amount: {value_text!r}")
    return number, qualifier


def normalize_figure(
    metric: str, value_text: str, unit_text: str | None, number: float | None = None
) -> tuple[float, str, str | None]:
    """(value in the canonical unit, canonical unit, qualifier); raises ValueProblem with a reason."""
    qualifier = None
    if number is None:
        number, qualifier = to_number(value_text)
    elif not math.isfinite(number):
        raise ValueProblem(f"not a finite number: {value_text!r}")
    elif number < 0:
        raise ValueProblem(f"negative amount: {value_text!r}")
    try:
        factor = units.unit_factor(metric, unit_text)
    except units.UnitError as err:
        raise ValueProblem(str(err)) from None
    return number * factor, units.CANONICAL_UNIT[metric], qualifier


def metric_for_unit(unit_text: str | None) -> str | None:
    """The metric a printed unit measures ('tons CO2eq' -> emissions, 'GPU hours' -> chip_hours), or None."""
    if not unit_text:
        return None
    for metric, pattern in UNIT_PATTERNS.items():
        if re.fullmatch(pattern, unit_text.strip(), flags=re.IGNORECASE):
            return metric
    return None
