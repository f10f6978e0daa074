"""Bi-IRRA: the bilingual text-to-image person retrieval baseline (arXiv 2510.17685), reimplemented.

Modules, bottom up: config -> vision_tower, text_tower -> model (heads) -> losses, masking -> data,
tokenizer -> schedule, checkpoint, keymap -> inference -> training: options -> run_plan, processes,
optimizer -> run_state, epoch, validation, run_log -> train (the run, end to end).
"""
