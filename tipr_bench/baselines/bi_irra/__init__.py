"""Bi-IRRA: the bilingual text-to-image person retrieval baseline (arXiv 2510.17685), reimplemented.

Modules, bottom up: config -> vit, text -> model (heads) -> losses, masking -> data, tokenizer ->
schedule, checkpoint, keymap -> train, inference.
"""
