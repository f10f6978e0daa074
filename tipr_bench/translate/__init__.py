"""LLM translation: backends, prompts, cache, async runner, output checks. Never imports refine."""
