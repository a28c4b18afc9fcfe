import math

import pytest

from pipelines.lib.units import UnitError, normalize, parse_number

# Conversion factors written out independently of the code under test (SI and avoirdupois definitions).
LB_IN_T = 0.45359237 / 1000


@pytest.mark.parametrize(
    ("printed", "expected"),
    [("82,432", 82432), ("1,022,362", 1022362), ("0.385", 0.385), ("3.3M", 3.3e6), ("916k", 916e3),
     ("1400K", 1.4e6), ("11 250", 11250), ("12,3", 12.3), ("1.5 million", 1.5e6), ("2.5e3", 2500),
     ("\u22121", -1)],
)
def test_parse_number(printed, expected):
    value, _ = parse_number(printed)
    assert math.isclose(value, expected)


@pytest.mark.parametrize(("printed", "qualifier"), [("~131", "approximately"), ("<0.001", "less_than"),
                                                    ("about 5", "approximately"), ("12", None)])
def test_qualifiers_are_kept(printed, qualifier):
    assert parse_number(printed)[1] == qualifier


@pytest.mark.parametrize("printed", ["", "n/a", "[More Information Needed]", "nan", "inf", "1.2.3", "12 34 5x"])
def test_not_numbers_are_rejected(printed):
    with pytest.raises(UnitError):
        parse_number(printed)


@pytest.mark.parametrize(
    ("metric", "value", "unit", "expected", "canonical"),
    [
        ("emissions", "1", "g", 1e-6, "tCO2e"),
        ("emissions", "1", "kg CO2eq", 1e-3, "tCO2e"),
        ("emissions", "539", "tCO2eq", 539, "tCO2e"),
        ("emissions", "2", "kt", 2000, "tCO2e"),
        ("emissions", "626,155", "lbs", 626155 * LB_IN_T, "tCO2e"),
        ("emissions", "11,390", "tons CO2eq", 11390, "tCO2e"),
        ("energy", "1", "Wh", 1e-3, "kWh"),
        ("energy", "356", "MWh", 356e3, "kWh"),
        ("energy", "1", "GWh", 1e6, "kWh"),
        ("carbon_intensity", "0.385", "kg CO2e/KWh", 0.385, "kg/kWh"),
        ("carbon_intensity", "57", "gCO2eq/kWh", 0.057, "kg/kWh"),
        ("chip_hours", "3.3M", "GPU hours", 3.3e6, "hours"),
        ("chip_hours", "1,082,990", "compute hours", 1082990, "hours"),
        ("power", "400", "W", 400, "W"),
        ("duration", "34", "days", 34 * 24, "hours"),
    ],
)
def test_normalize(metric, value, unit, expected, canonical):
    result = normalize(metric, value, unit)
    assert math.isclose(result.value, expected, rel_tol=1e-12) and result.unit == canonical


@pytest.mark.parametrize(("metric", "unit"), [("emissions", "g/km"), ("energy", "horsepower"),
                                              ("carbon_intensity", "kg"), ("emissions", "MT")])
def test_unknown_or_ambiguous_units_are_rejected(metric, unit):
    with pytest.raises(UnitError):
        normalize(metric, "1", unit)
