"""``LanguageModel``: Embedding -> recurrent stack -> Linear, with text generation.

Shapes: T steps, B batch, E embedding size, H hidden size, L layers, V vocabulary.

>>> import fastrnn as fr
>>> from fastrnn.data import Vocab
>>> fr.manual_seed(0)
>>> vocab = Vocab.build(["hello world"])
>>> lm = LanguageModel(vocab=vocab, hidden_size=16, num_layers=1, embedding_dim=8)
>>> logits, state = lm(vocab.encode("hello")[:, None])      # (T=5, B=1) ids
>>> logits.shape
(5, 1, 12)
>>> len(lm.generate("he", max_new_tokens=5, seed=0))        # prompt + 5 characters
7
"""

from __future__ import annotations

import os
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

from fastrnn import checkpoint as _ckpt
from fastrnn import nn
from fastrnn.data import Vocab
from fastrnn.models.sampling import check_sampling_args, sample_from_logits
from fastrnn.tensor import Tensor, no_grad

__all__ = ["LanguageModel", "load_language_model"]

MODEL_KIND = "fastrnn.language_model"
LEVELS = ("char", "word")


class LanguageModel(nn.Module):
    """Next-token model over a vocabulary: ``logits[t] = f(tokens[:t+1])``.

    Parameters
    ----------
    vocab_size : int, optional
        V; taken from ``vocab`` when given.
    vocab : Vocab, optional
        Token <-> id mapping; needed to encode/decode text in :meth:`generate`.
    embedding_dim : int, default 64
    hidden_size : int, default 256
    num_layers : int, default 2
    cell : str, default "lstm"
        Any cell of :func:`fastrnn.nn.recurrent_layer` (``"lstm"``, ``"gru"``,
        ``"rnn"``, ``"rnn_relu"``, ``"lstm_peephole"``, ``"gru_cho"``, ...).
    dropout : float, default 0.0
        Dropout on the embeddings, between recurrent layers and before the head.
    level : "char" or "word", default "char"
        How text is tokenized; word-level generation stops at ``<EOS>``.

    Forward
    -------
    ``model(tokens, state=None) -> (logits, state)`` with tokens (T, B) int ids
    (time-major), logits (T, B, V) and state the recurrent layer's final state
    (``h_n`` (L, B, H), or ``(h_n, c_n)`` for LSTMs), ready to be carried into the
    next window (truncated BPTT; see :class:`fastrnn.train.Trainer`).
    """

    def __init__(
        self,
        vocab_size: int | None = None,
        *,
        vocab: Vocab | None = None,
        embedding_dim: int = 64,
        hidden_size: int = 256,
        num_layers: int = 2,
        cell: str = "lstm",
        dropout: float = 0.0,
        level: str = "char",
    ) -> None:
        super().__init__()
        if vocab_size is None:
            if vocab is None:
                raise ValueError("expected vocab_size or vocab, got neither")
            vocab_size = len(vocab)
        elif vocab is not None and len(vocab) != vocab_size:
            raise ValueError(
                f"expected vocab_size == len(vocab) = {len(vocab)}, got {vocab_size}"
            )
        if level not in LEVELS:
            raise ValueError(f"expected level in {LEVELS}, got {level!r}")
        if not 0 <= dropout < 1:
            raise ValueError(f"expected dropout in [0, 1), got {dropout}")
        self.vocab = vocab
        self.vocab_size = int(vocab_size)
        self.embedding_dim = int(embedding_dim)
        self.hidden_size = int(hidden_size)
        self.num_layers = int(num_layers)
        self.dropout_p = float(dropout)
        self.level = level
        self.embedding = nn.Embedding(self.vocab_size, self.embedding_dim)
        self.rnn = nn.recurrent_layer(
            cell,
            self.embedding_dim,
            self.hidden_size,
            num_layers=self.num_layers,
            dropout=self.dropout_p if self.num_layers > 1 else 0.0,
        )
        self.cell = self.rnn.cell
        self.drop = nn.Dropout(self.dropout_p)
        self.head = nn.Linear(self.hidden_size, self.vocab_size)

    # ------------------------------------------------------------ forward
    def forward(self, tokens: Any, state: Any = None) -> tuple[Tensor, Any]:
        x = self.drop(self.embedding(tokens))
        y, state = self.rnn(x, state)
        return self.head(self.drop(y)), state

    # ------------------------------------------------------------ config / files
    def config(self) -> dict[str, Any]:
        """JSON-able constructor arguments (vocabulary included); see :meth:`from_config`."""
        return {
            "vocab_size": self.vocab_size,
            "vocab": None if self.vocab is None else self.vocab.to_dict(),
            "embedding_dim": self.embedding_dim,
            "hidden_size": self.hidden_size,
            "num_layers": self.num_layers,
            "cell": self.cell,
            "dropout": self.dropout_p,
            "level": self.level,
        }

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> LanguageModel:
        """A freshly initialised model with the architecture in ``config``."""
        cfg = dict(config)
        vocab = cfg.pop("vocab", None)
        return cls(vocab=None if vocab is None else Vocab.from_dict(vocab), **cfg)

    def save(self, path: str | os.PathLike[str]) -> None:
        """Write weights and config to ``path`` (safetensors + JSON; see fastrnn.save).

        The file has the same ``model`` / ``config`` layout as a Trainer checkpoint,
        so :func:`load_language_model` reads both.
        """
        _ckpt.save(
            {
                "kind": MODEL_KIND,
                "model": self.state_dict(),
                "config": {"task": "language_model", "model": self.config()},
            },
            path,
        )

    # ------------------------------------------------------------ text
    def _require_vocab(self) -> Vocab:
        if self.vocab is None:
            raise ValueError("this model has no vocab: pass token ids instead of text")
        return self.vocab

    def encode(self, text: str) -> NDArray[np.int64]:
        """Text -> ids (characters, or whitespace-separated words at word level)."""
        vocab = self._require_vocab()
        return vocab.encode(list(text) if self.level == "char" else text.split())

    def decode(self, ids: ArrayLike) -> str:
        """Ids -> text; specials are dropped."""
        tokens = self._require_vocab().decode(np.asarray(ids), skip_specials=True)
        return ("" if self.level == "char" else " ").join(tokens)

    # ------------------------------------------------------------ generation
    def _start_ids(self, prompt: str | ArrayLike | None) -> NDArray[np.int64]:
        if prompt is None or (isinstance(prompt, str) and prompt == ""):
            bos = None if self.vocab is None else self.vocab.bos_id
            if bos is None:
                raise ValueError(
                    "expected a non-empty prompt (the vocab has no <BOS> to start from)"
                )
            return np.array([bos], dtype=np.int64)
        ids = self.encode(prompt) if isinstance(prompt, str) else np.asarray(prompt)
        if ids.ndim != 1 or ids.size == 0 or not np.issubdtype(ids.dtype, np.integer):
            raise ValueError(f"expected a non-empty 1-D array of ids, got {ids!r}")
        if ids.min() < 0 or ids.max() >= self.vocab_size:
            raise ValueError(f"expected ids in [0, {self.vocab_size}), got {ids}")
        return ids.astype(np.int64)

    @no_grad()
    def generate_ids(
        self,
        prompt: str | ArrayLike | None = None,
        max_new_tokens: int = 200,
        temperature: float = 1.0,
        top_k: int | None = None,
        top_p: float | None = None,
        seed: int | None = None,
        num_samples: int = 1,
        stop_at_eos: bool | None = None,
        fused: bool = True,
    ) -> list[NDArray[np.int64]]:
        """Sample ``num_samples`` continuations of ``prompt``; returns their new ids.

        The prompt (text or ids) is run through the model once; then each new token
        is drawn from the last logits with :func:`fastrnn.models.sampling.sample_from_logits`
        using uniforms ``numpy.random.default_rng(seed).random((max_new_tokens, B))``
        and fed back. ``fused=True`` runs the whole token loop in the Cython kernel
        (:mod:`fastrnn._kernels.generate`); ``fused=False`` is the step-by-step
        reference through the layers. Both give the same tokens for the same seed.

        Returns
        -------
        list of B int64 arrays
            New tokens of each sample (shorter than ``max_new_tokens`` when it
            stopped at ``<EOS>``; the ``<EOS>`` is not included).
        """
        temperature, k, p = check_sampling_args(temperature, top_k, top_p)
        if (
            isinstance(max_new_tokens, bool)
            or not isinstance(max_new_tokens, int)
            or max_new_tokens < 0
        ):
            raise ValueError(f"expected max_new_tokens >= 0, got {max_new_tokens!r}")
        if (
            isinstance(num_samples, bool)
            or not isinstance(num_samples, int)
            or num_samples < 1
        ):
            raise ValueError(f"expected num_samples >= 1, got {num_samples!r}")
        if stop_at_eos is None:
            stop_at_eos = self.level == "word"
        eos = None if self.vocab is None else self.vocab.eos_id
        eos_id = eos if (stop_at_eos and eos is not None) else -1
        start = self._start_ids(prompt)
        B = num_samples
        uniforms = np.random.default_rng(seed).random((max_new_tokens, B))
        was_training = self.training
        self.eval()
        try:
            tokens = np.repeat(start[:, None], B, axis=1)
            logits, state = self(tokens)
            last = logits.numpy()[-1]  # (B, V)
            if fused and max_new_tokens > 0:
                from fastrnn.models import _fused_generate

                out = _fused_generate.generate(
                    self, last, state, uniforms, temperature, k, p, eos_id
                )
            else:
                out = self._generate_reference(
                    last, state, uniforms, temperature, k, p, eos_id
                )
        finally:
            self.train(was_training)
        return out

    def _generate_reference(
        self,
        last: NDArray[np.floating],
        state: Any,
        uniforms: NDArray[np.float64],
        temperature: float,
        top_k: int,
        top_p: float,
        eos_id: int,
    ) -> list[NDArray[np.int64]]:
        """Step-by-step generation through the layers (the oracle of the fused kernel)."""
        N, B = uniforms.shape
        out = np.zeros((N, B), dtype=np.int64)
        lengths = np.full(B, N, dtype=np.int64)
        done = np.zeros(B, dtype=bool)
        for t in range(N):
            token = sample_from_logits(last, uniforms[t], temperature, top_k, top_p)
            out[t] = token
            for b in np.flatnonzero(~done & (token == eos_id)):
                lengths[b], done[b] = t, True
            if done.all() or t == N - 1:
                break
            logits, state = self(token[None, :], state)
            last = logits.numpy()[0]
        return [out[: lengths[b], b].copy() for b in range(B)]

    def generate(
        self,
        prompt: str | None = None,
        max_new_tokens: int = 200,
        temperature: float = 1.0,
        top_k: int | None = None,
        top_p: float | None = None,
        seed: int | None = None,
        num_samples: int | None = None,
        stop_at_eos: bool | None = None,
        fused: bool = True,
    ) -> str | list[str]:
        """Prompt + sampled continuation as text (a list of texts with ``num_samples``).

        Parameters
        ----------
        prompt : str, optional
            Text to continue; empty or None starts from ``<BOS>``.
        max_new_tokens : int, default 200
        temperature : float, default 1.0
            0 is greedy; lower is more conservative, higher more random.
        top_k : int, optional
            Sample only among the k most likely tokens.
        top_p : float, optional
            Nucleus sampling: the smallest set of tokens with probability >= top_p.
        seed : int, optional
            Same seed, same text.
        num_samples : int, optional
            Draw this many continuations in one batch and return a list.
        stop_at_eos : bool, optional
            Stop a sample at ``<EOS>`` (default: word-level models only).
        fused : bool, default True
            The Cython token loop; False runs the step-by-step reference.
        """
        ids = self.generate_ids(
            prompt,
            max_new_tokens,
            temperature,
            top_k,
            top_p,
            seed,
            1 if num_samples is None else num_samples,
            stop_at_eos,
            fused,
        )
        head = prompt or ""
        sep = " " if self.level == "word" and head else ""
        texts = [head + (sep + self.decode(x) if len(x) else "") for x in ids]
        return texts[0] if num_samples is None else texts

    # ------------------------------------------------------------ evaluation
    @no_grad()
    def evaluate_stream(
        self, ids: ArrayLike, seq_len: int = 256, batch_size: int = 1
    ) -> float:
        """Mean cross-entropy (nats/token) over an id stream, state carried across windows.

        The stream is cut into ``batch_size`` contiguous pieces read in order
        (:func:`fastrnn.data.stream_batches`), so every token but the first of each
        piece is scored with all of its piece's history.
        """
        from fastrnn.data import stream_batches

        was_training = self.training
        self.eval()
        total, count, state = 0.0, 0, None
        try:
            for x, y in stream_batches(ids, batch_size, seq_len):
                logits, state = self(x, state)
                z = logits.numpy().astype(np.float64)
                z -= z.max(axis=-1, keepdims=True)
                logp = z - np.log(np.exp(z).sum(axis=-1, keepdims=True))
                total -= float(np.take_along_axis(logp, y[..., None], axis=-1).sum())
                count += y.size
        finally:
            self.train(was_training)
        return total / count


def load_language_model(path: str | os.PathLike[str]) -> LanguageModel:
    """Load a :class:`LanguageModel` saved by :meth:`LanguageModel.save` or a Trainer.

    Raises ValueError naming the file when it holds no language model.
    """
    tree = _ckpt.load(path)
    config = tree.get("config") if isinstance(tree, dict) else None
    if not (isinstance(config, dict) and config.get("task") == "language_model"):
        raise ValueError(
            f"{os.fspath(path)}: expected a fastrnn language-model checkpoint"
        )
    model = LanguageModel.from_config(config["model"])
    model.load_state_dict(tree["model"])
    model.eval()
    return model
