"""The chat model: an OpenAI-compatible client from settings, and what its tokens cost."""

from __future__ import annotations

from typing import Any

from app.config import get_settings

NO_MODEL_MESSAGE = (
    "No language model is configured, so I cannot chat. Set OPENAI_API_KEY (and OPENAI_BASE_URL for an "
    "OpenAI-compatible server such as Ollama or vLLM). Tools and runbook search still work by hand."
)
# US dollars per million tokens (prompt, completion), from the providers' public price lists.
PRICES: dict[str, tuple[float, float]] = {
    "gpt-4o": (2.5, 10.0),
    "gpt-4o-mini": (0.15, 0.6),
    "gpt-4.1": (2.0, 8.0),
    "gpt-4.1-mini": (0.4, 1.6),
    "gpt-4.1-nano": (0.1, 0.4),
    "o4-mini": (1.1, 4.4),
}
GENERIC_MODEL_INFO: dict[str, Any] = {
    "vision": False,
    "function_calling": True,
    "json_output": True,
    "family": "unknown",
    "structured_output": False,
}


def cost_usd(model: str, prompt_tokens: int, completion_tokens: int) -> float:
    """The cost of one call; self-hosted and unknown models cost nothing."""
    prompt, completion = PRICES.get(model, (0.0, 0.0))
    return (prompt_tokens * prompt + completion_tokens * completion) / 1_000_000


def model_configured() -> bool:
    settings = get_settings()
    return settings.openai_api_key is not None or settings.openai_base_url is not None


def model_client() -> Any | None:
    """An OpenAIChatCompletionClient for the configured model, or None when none is configured."""
    from autogen_ext.models.openai import OpenAIChatCompletionClient

    settings = get_settings()
    if not model_configured():
        return None
    key = settings.openai_api_key.get_secret_value() if settings.openai_api_key else "not-needed"
    kwargs: dict[str, Any] = {"model": settings.openai_model, "api_key": key}
    if settings.openai_base_url:
        kwargs["base_url"] = settings.openai_base_url
    try:
        return OpenAIChatCompletionClient(**kwargs)
    except ValueError:
        # Names the client does not know (llama3, qwen2.5 …) need their capabilities spelt out.
        return OpenAIChatCompletionClient(**kwargs, model_info=GENERIC_MODEL_INFO)
