"""``api``: closed image models behind provider APIs (OpenAI Images, Gemini), one adapter with providers.

``adapter`` (settings, concurrency, budget), ``providers`` (the official SDK calls and replies of each
provider), ``render`` (instruction -> provider-neutral request), ``cache`` (replies keyed by request, so a
rerun never re-bills), ``retry`` (429/5xx backoff honouring Retry-After).
"""
