"""Hostile model cards, generated here (never committed): each ends with a quarantine reason or a valid
figure, in bounded time and memory."""

import json
import time
import tracemalloc

import pytest

from pipelines.lib.cards import MAX_CARD_BYTES, MAX_YAML_DEPTH, parse_card, parse_card_file

SECONDS = 15  # generous: two cores shared with the rest of the suite; typical runs take well under 2 s
PEAK_BYTES = 300 * 1024 * 1024


def measured(function, *args, **kwargs):
    tracemalloc.start()
    started = time.perf_counter()
    try:
        result = function(*args, **kwargs)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    elapsed = time.perf_counter() - started
    json.dumps(result.to_json(), allow_nan=False)
    assert elapsed < SECONDS, f"took {elapsed:.1f}s"
    assert peak < PEAK_BYTES, f"peak {peak / 1e6:.0f} MB"
    return result


def reasons(result) -> str:
    return " | ".join(q.reason for q in result.quarantine)


def test_yaml_alias_bomb():
    lines = ["---", "l0: &l0 [x, x, x, x, x, x, x, x, x, x]"]
    for level in range(1, 10):
        lines.append(f"l{level}: &l{level} [" + ", ".join([f"*l{level - 1}"] * 10) + "]")
    lines += ["co2_eq_emissions: 12", "---", "# A card", ""]
    result = measured(parse_card, "\n".join(lines))
    assert "alias" in reasons(result)
    assert result.emissions_kg is None  # the whole block is refused, its emissions included


@pytest.mark.parametrize("shape", ["block", "flow sequence", "flow mapping"])
def test_front_matter_nested_thousands_deep(shape):
    depth = 5000
    if shape == "block":
        nested = "".join("  " * i + f"k{i}:\n" for i in range(depth))
    elif shape == "flow sequence":
        nested = "x: " + "[" * depth + "]" * depth + "\n"
    else:
        nested = "x: " + "{a: " * depth + "1" + "}" * depth + "\n"
    result = measured(parse_card, f"---\n{nested}co2_eq_emissions: 5\n---\n# Card\n")
    assert result.emissions_kg is None
    assert any(
        word in reasons(result) for word in (f"deeper than {MAX_YAML_DEPTH}", "larger than", "not valid YAML")
    )


def test_front_matter_over_the_size_limit():
    result = measured(parse_card, "---\n" + "k: " + "x" * 300_000 + "\nco2_eq_emissions: 5\n---\n")
    assert "larger than" in reasons(result)


def test_single_line_of_three_megabytes(tmp_path):
    path = tmp_path / "README.md"
    path.write_text("# Card\n\n- **Carbon Emitted:** 5 kg CO2eq\n\n" + "word " * 600_000 + "\n")
    result = measured(parse_card_file, path)
    assert result.emissions_kg == pytest.approx(5)
    assert "only the first" in reasons(result)


def test_thirty_megabyte_card_is_capped(tmp_path):
    path = tmp_path / "README.md"
    with path.open("w") as handle:
        handle.write("---\nco2_eq_emissions: 1200\n---\n# Card\n\n")
        handle.write("Some text about the model and its evaluation.\n" * 660_000)
    assert path.stat().st_size > 30_000_000
    result = measured(parse_card_file, path)
    assert result.emissions_kg == pytest.approx(1.2)
    assert result.bytes_total == path.stat().st_size and result.bytes_parsed == MAX_CARD_BYTES
    assert str(path.stat().st_size) in " ".join(q.item for q in result.quarantine)


def test_invalid_utf8_is_replaced_and_reported():
    data = b"---\nco2_eq_emissions: 40\n---\n# Card \xff\xfe\n\n- **Hardware Type:** A\xc3(100\n"
    result = measured(parse_card, data)
    assert result.emissions_kg == pytest.approx(0.04)
    assert "invalid UTF-8" in reasons(result)
    assert "\ufffd" in result.hardware


def test_cut_in_the_middle_of_a_character_is_not_invalid_utf8():
    data = b"# Card\n\n- **Carbon Emitted:** 2 kg\n\n" + "\u00e9".encode() * MAX_CARD_BYTES
    result = measured(parse_card, data[: MAX_CARD_BYTES + 1])
    assert "invalid UTF-8" not in reasons(result)
    assert result.emissions_kg == pytest.approx(2)


@pytest.mark.parametrize(
    ("value", "reason"),
    [
        (".nan", "finite"),
        ("-.inf", "finite"),
        ("-3", "negative"),
        ("'nan g'", "not a number"),
        ("1" + "0" * 5000, "YAML"),
    ],
)
def test_non_finite_and_negative_emissions(value, reason):
    result = measured(parse_card, f"---\nco2_eq_emissions:\n  emissions: {value}\n---\n")
    assert result.emissions_kg is None
    assert reason in reasons(result)


@pytest.mark.parametrize(
    "body",
    [
        "*a" * 500_000,
        "[" * 1_000_000,
        "<" * 1_000_000,
        "<div>" * 200_000,
        "> " * 200_000 + "x",
        "| a | Emissions (kg) |\n|---|---|\n" + "| m | 1 |\n" * 80_000,
        "".join("  " * i + "- x\n" for i in range(3000)),
        "`" * 1_000_000,
    ],
)
def test_pathological_markdown(body):
    result = measured(parse_card, "# Card\n\n" + body)
    assert result.emissions_kg is None or result.emissions_kg >= 0


@pytest.mark.parametrize("line", ["- a\n", "a\n\n", "# a\n", "1. a\n", "a\n=\n", "---\n"])
def test_tens_of_thousands_of_lines(line):
    result = measured(parse_card, "# Card\n\n- **Carbon Emitted:** 3 kg\n\n" + line * 50_000)
    assert result.emissions_kg == pytest.approx(3)
    assert "read as plain text" in reasons(result)


def test_many_figures_are_capped():
    result = measured(
        parse_card, "# Card\n\n## Environmental Impact\n\n" + "The run emitted 1 kg CO2. " * 100_000
    )
    assert "figure limit" in reasons(result)
    assert len(result.figures) <= 500


def test_control_characters_bom_crlf_and_surrogates():
    text = (
        "\ufeff---\r\nco2_eq_emissions: 7\r\n---\r\n"
        "# Card \x00\x07\r\n\r\n- **Hardware Type:** A100\udcff\r\n"
    )
    result = measured(parse_card, text)
    assert result.emissions_kg == pytest.approx(0.007)
    assert result.hardware.startswith("A100")


def test_script_and_sql_injection_in_every_field():
    hostile = "<script>fetch('//x')</script>'; DROP TABLE disclosures; --"
    text = (
        f'---\nco2_eq_emissions:\n  emissions: 3\n  source: "{hostile}"\n  hardware_used: "{hostile}"\n'
        f'  geographical_location: "{hostile}"\n  training_type: "{hostile}"\n---\n'
        f"# Card\n\n<script>alert('x')</script>\n\n- **Cloud Provider:** {hostile}\n"
    )
    result = measured(parse_card, text)
    assert result.emissions_kg == pytest.approx(0.003)
    assert result.source == result.hardware == result.location == result.training_type == hostile
    assert result.cloud_provider is not None and "DROP TABLE" in result.cloud_provider


def test_random_splices_of_card_fragments_never_raise():
    import random

    fragments = [
        b"---\n",
        b"co2_eq_emissions:",
        b"  emissions: ",
        b"12",
        b"-3",
        b".nan",
        b"'5 kg'",
        b"[1,2]",
        b"{a: 1}",
        b"&a",
        b"*a",
        b"\n",
        b"|",
        b"| Emissions (kg) |",
        b"|---|",
        b"<table>",
        b"<tr><td>",
        b"</td>",
        b"**Carbon Emitted:**",
        b" 5 kg CO2eq",
        b"\xff",
        b"\xc3",
        b"\x00",
        b"# ",
        b"- ",
        b"> ",
        b"```",
        b"Total",
        b"1,234",
        b"tCO2eq",
        b"GPU hours",
        b"\r\n",
        b"\t",
        b"\xe2\x82\x82",
        b"<script>",
        b"{{ x }}",
        b"[More Information Needed]",
        b"location-based",
        b"Hours used: ",
        b"~",
        b"0,5",
    ]
    rng = random.Random(20240601)
    started = time.perf_counter()
    for _ in range(400):
        data = b"".join(rng.choice(fragments) for _ in range(rng.randint(1, 120)))
        result = parse_card(data if rng.random() < 0.5 else data.decode("utf-8", "surrogateescape"))
        json.dumps(result.to_json(), allow_nan=False)
        assert result.emissions_kg is None or result.emissions_kg >= 0
    assert time.perf_counter() - started < SECONDS
