"""The AI emissions disclosures pipeline."""
