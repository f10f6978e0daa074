"""Refinement: glossary terminology, back-translation QA, quality estimation, rewriting, review."""
