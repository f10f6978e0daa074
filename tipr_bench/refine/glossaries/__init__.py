"""Shipped domain glossaries (one TSV per target language); a package so the TSVs ship in the wheel."""
