"""Model-card parser: emissions disclosures from Hugging Face model cards, with provenance.

    from pipelines.lib.cards import parse_card, parse_card_file
    result = parse_card(text_or_bytes, path="org/model/README.md")
    result.to_json()  # path, emissions_kg, source, training_type, hardware, location, hours, figures, ...

Reads YAML front matter (`co2_eq_emissions`, grams per the Hub's convention), the model-card template's
"Environmental Impact" fields, prose, Markdown and HTML tables. Importable without Dagster.
See `parse.py` for the headline rule and `frontmatter.py` / `parse.MAX_CARD_BYTES` for the limits.
"""

from pipelines.lib.cards.extract import stage_for_training_type
from pipelines.lib.cards.frontmatter import MAX_FRONT_MATTER_BYTES, MAX_YAML_DEPTH, MAX_YAML_NODES
from pipelines.lib.cards.parse import MAX_CARD_BYTES, parse_card, parse_card_file
from pipelines.lib.cards.result import CardResult, Figure, QuarantineItem

__all__ = [
    "MAX_CARD_BYTES",
    "MAX_FRONT_MATTER_BYTES",
    "MAX_YAML_DEPTH",
    "MAX_YAML_NODES",
    "CardResult",
    "Figure",
    "QuarantineItem",
    "parse_card",
    "parse_card_file",
    "stage_for_training_type",
]
