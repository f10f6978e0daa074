"""Translation backends: openai (any OpenAI-compatible server), vllm (in-process), transformers (local).

Each takes the `BackendOptions` record whole (`backend_factory.build_backend` picks one by name). The local ones
are imported only when chosen, so the openai path never loads torch or vllm.
"""
