"""``Seq2Seq``: an encoder-decoder RNN with teacher forcing, greedy and beam decoding.

Notation: S source steps, T target steps, B batch, K beam size, E embedding size,
H encoder hidden size, D encoder directions (2 if bidirectional), Hd = D*H decoder
hidden size, L layers, V target vocabulary size. Token batches are time-major,
(S, B) and (T, B), as the recurrent layers take them.

Architecture::

    src (S, B) -> Embedding -> RNN/LSTM/GRU encoder (L layers, D directions,
                                                     lengths= for padded batches)
        outputs (S, B, Hd), final state per layer: both directions concatenated
    tgt (T, B) -> Embedding -> decoder (L layers of Hd, initial state = encoder's)
        [-> Luong "general" attention over the encoder outputs (optional):
            score(h_t, e_s) = h_t . W_a e_s (padded source steps masked out),
            context c_t = sum_s softmax(score)_s e_s,  h~_t = tanh(W_c [c_t; h_t])]
        -> Linear -> logits (T - 1, B, V)

Target convention: ``tgt`` holds ``<BOS> y_1 ... y_n <EOS>`` padded with ``<PAD>``;
the decoder reads ``tgt[:-1]`` and is scored on ``tgt[1:]`` (padding ignored).

The decoder's parameters belong to one whole-sequence layer (``decoder``, an
``nn.LSTM``/``nn.GRU``/``nn.RNN``), which teacher-forced training runs in one kernel
call. Step-by-step decoding (scheduled sampling, greedy and beam search) runs the
per-step cells (``nn.LSTMCell`` ...) that share those very Parameter objects, so both
paths compute the same function (checked in the tests) and the state dict names
match a PyTorch model of the same structure.
"""

from __future__ import annotations

import inspect
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, DTypeLike, NDArray

from fastrnn import nn
from fastrnn import random as _random
from fastrnn._ops import log_softmax_array
from fastrnn._shape_ops import cat, stack
from fastrnn._validation import check_int as _check_int
from fastrnn.nn import functional as F
from fastrnn.tensor import Tensor, get_default_dtype, no_grad

__all__ = ["Seq2Seq"]

IntArray = NDArray[np.int64]

#: cell name -> (whole-sequence layer, per-step cell)
CELLS: dict[str, tuple[type[nn.RNNBase], type[nn.RNNCellBase]]] = {
    "rnn": (nn.RNN, nn.RNNCell),
    "lstm": (nn.LSTM, nn.LSTMCell),
    "gru": (nn.GRU, nn.GRUCell),
}

# Additive attention mask for padded source steps: exp(-1e9 - max) is exactly 0.
_MASKED = -1e9


@dataclass
class _Memory:
    """What the decoder attends to, for N decoder rows (N = B, or B*K in beam search)."""

    values: Tensor  # (N, S, Hd) encoder outputs
    keys: Tensor | None  # (N, S, Hd) W_a-projected outputs (None without attention)
    mask: NDArray[Any]  # (N, 1, S) 0 for valid source steps, -1e9 for padding

    def take(self, rows: IntArray) -> _Memory:
        """The memory of the given rows (beam search: each source repeated K times)."""
        keys = None if self.keys is None else Tensor(self.keys.data[rows])
        return _Memory(Tensor(self.values.data[rows]), keys, self.mask[rows])


# Decoder state during step-by-step decoding: per layer h (N, Hd), and c for LSTMs.
_StepState = tuple[list[Tensor], list[Tensor] | None]


def _as_ids(name: str, value: Any, ndim: int) -> IntArray:
    array = np.asarray(value.data if isinstance(value, Tensor) else value)
    if array.dtype == np.bool_ or not np.issubdtype(array.dtype, np.integer):
        raise TypeError(f"expected {name} to hold integer token ids, got {array.dtype}")
    if array.ndim != ndim:
        want = "(S, B)" if ndim == 2 else "(B,)"
        raise ValueError(
            f"expected {name} of shape {want} (time-major), got {array.shape}"
        )
    return array.astype(np.int64, copy=False)


class Seq2Seq(nn.Module):
    """Encoder-decoder RNN for sequence-to-sequence tasks (translation-style).

    Parameters
    ----------
    src_vocab_size, tgt_vocab_size : int
        Sizes of the source and target vocabularies (specials included).
    embedding_dim : int, default 32
        E, for both embeddings.
    hidden_size : int, default 128
        H of the encoder per direction; the decoder has Hd = D*H units so that the
        encoder's final states (directions concatenated) initialise it.
    num_layers : int, default 1
        L, for encoder and decoder alike (layer k of the decoder starts from the
        final state of encoder layer k).
    cell : {"lstm", "gru", "rnn"}, default "lstm"
    bidirectional : bool, default True
        Bidirectional encoder (D = 2).
    attention : bool, default True
        Luong "general" attention over the encoder outputs (see the module doc).
    dropout : float, default 0
        Dropout on both embeddings, between stacked layers and on the decoder
        output, in training mode only.
    pad_id, bos_id, eos_id : int, default 0, 2, 3
        Special ids, as :class:`fastrnn.data.Vocab` assigns them by default
        (``<PAD>``, ``<UNK>``, ``<BOS>``, ``<EOS>``). ``pad_id`` is the embeddings'
        padding row and the ignored target of :meth:`loss`; ``<PAD>`` and ``<BOS>``
        are never produced by decoding.
    dtype : float32 (default) or float64

    Attributes
    ----------
    src_embedding : Embedding (V_src, E); tgt_embedding : Embedding (V, E)
    encoder : RNN/LSTM/GRU (E -> H, L layers, D directions)
    decoder : RNN/LSTM/GRU (E -> Hd, L layers)
    attn_proj : Linear (Hd -> Hd, no bias), attn_combine : Linear (2*Hd -> Hd)
        only with ``attention=True``
    head : Linear (Hd -> V)

    Examples
    --------
    >>> model = Seq2Seq(40, 14, hidden_size=64)
    >>> logits = model(src, tgt, lengths)            # (T - 1, B, 14)
    >>> loss = model.loss(logits, tgt); loss.backward()
    >>> model.greedy_decode(src, lengths, max_len=12)  # list of B id lists
    """

    def __init__(
        self,
        src_vocab_size: int,
        tgt_vocab_size: int,
        embedding_dim: int = 32,
        hidden_size: int = 128,
        num_layers: int = 1,
        cell: str = "lstm",
        bidirectional: bool = True,
        attention: bool = True,
        dropout: float = 0.0,
        pad_id: int = 0,
        bos_id: int = 2,
        eos_id: int = 3,
        dtype: DTypeLike | None = None,
    ) -> None:
        super().__init__()
        if cell not in CELLS:
            raise ValueError(f"expected cell in {tuple(CELLS)}, got {cell!r}")
        for name, value in (
            ("src_vocab_size", src_vocab_size),
            ("tgt_vocab_size", tgt_vocab_size),
            ("embedding_dim", embedding_dim),
            ("hidden_size", hidden_size),
            ("num_layers", num_layers),
        ):
            _check_int(name, value, 1)
        ids = {"pad_id": pad_id, "bos_id": bos_id, "eos_id": eos_id}
        for name, value in ids.items():
            _check_int(name, value, 0)
            if value >= tgt_vocab_size:
                raise ValueError(
                    f"expected {name} < tgt_vocab_size={tgt_vocab_size}, got {value}"
                )
        if len(set(ids.values())) != 3:
            raise ValueError(f"expected distinct special ids, got {ids}")
        if pad_id >= src_vocab_size:
            raise ValueError(
                f"expected pad_id < src_vocab_size={src_vocab_size}, got {pad_id}"
            )
        if isinstance(dropout, bool) or not 0 <= dropout < 1:
            raise ValueError(f"expected dropout in [0, 1), got {dropout!r}")
        dt = np.dtype(dtype or get_default_dtype())
        self.src_vocab_size = int(src_vocab_size)
        self.tgt_vocab_size = int(tgt_vocab_size)
        self.embedding_dim = int(embedding_dim)
        self.hidden_size = int(hidden_size)
        self.num_layers = int(num_layers)
        self.cell = cell
        self.bidirectional = bool(bidirectional)
        self.attention = bool(attention)
        self.dropout = float(dropout)
        self.pad_id, self.bos_id, self.eos_id = int(pad_id), int(bos_id), int(eos_id)
        D = 2 if bidirectional else 1
        Hd = D * self.hidden_size
        self.decoder_size = Hd
        layer_type, cell_type = CELLS[cell]
        between = self.dropout if self.num_layers > 1 else 0.0
        E, L = self.embedding_dim, self.num_layers
        self.src_embedding = nn.Embedding(src_vocab_size, E, pad_id, dtype=dt)
        self.encoder = layer_type(
            E, hidden_size, L, dropout=between, bidirectional=bidirectional, dtype=dt
        )
        self.tgt_embedding = nn.Embedding(tgt_vocab_size, E, pad_id, dtype=dt)
        self.decoder = layer_type(E, Hd, L, dropout=between, dtype=dt)
        if self.attention:
            self.attn_proj = nn.Linear(Hd, Hd, bias=False, dtype=dt)
            self.attn_combine = nn.Linear(2 * Hd, Hd, dtype=dt)
        self.head = nn.Linear(Hd, tgt_vocab_size, dtype=dt)
        # Per-step cells sharing the decoder's Parameter objects. They are kept in a
        # plain list (not registered), so the state dict holds each weight once. The
        # library rng is restored so that building them draws nothing.
        rng_state = _random.get_rng_state()
        cells = []
        for k in range(L):
            step = cell_type(E if k == 0 else Hd, Hd, dtype=dt)
            for name in ("weight_ih", "weight_hh", "bias_ih", "bias_hh"):
                setattr(step, name, getattr(self.decoder, f"{name}_l{k}"))
            cells.append(step)
        _random.set_rng_state(rng_state)
        self._step_cells: list[nn.RNNCellBase] = cells

    # ---------------------------------------------------------------- config
    def config(self) -> dict[str, Any]:
        """The constructor arguments as a JSON-able dict (see :meth:`from_config`)."""
        return {
            "src_vocab_size": self.src_vocab_size,
            "tgt_vocab_size": self.tgt_vocab_size,
            "embedding_dim": self.embedding_dim,
            "hidden_size": self.hidden_size,
            "num_layers": self.num_layers,
            "cell": self.cell,
            "bidirectional": self.bidirectional,
            "attention": self.attention,
            "dropout": self.dropout,
            "pad_id": self.pad_id,
            "bos_id": self.bos_id,
            "eos_id": self.eos_id,
            "dtype": str(self.head.weight.dtype),
        }

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> Seq2Seq:
        """A new (freshly initialised) model from :meth:`config` output.

        Load the weights afterwards, e.g. ``model.load_state_dict(ckpt["model"])``.
        """
        if not isinstance(config, dict):
            raise TypeError(f"expected a config dict, got {type(config).__name__}")
        allowed = set(inspect.signature(cls.__init__).parameters) - {"self"}
        unknown = sorted(set(config) - allowed)
        if unknown:
            raise ValueError(
                f"expected config keys among {sorted(allowed)}, got unknown {unknown}"
            )
        return cls(**config)

    def extra_repr(self) -> str:
        return (
            f"cell={self.cell!r}, bidirectional={self.bidirectional}, "
            f"attention={self.attention}"
        )

    # --------------------------------------------------------------- encoder
    def _dtype(self) -> np.dtype:
        return self.head.weight.dtype

    def _check_src(self, src: Any, lengths: Any) -> tuple[IntArray, IntArray]:
        src_ids = _as_ids("src", src, 2)
        S, B = src_ids.shape
        if S == 0 or B == 0:
            raise ValueError(
                f"expected a non-empty src batch, got shape {src_ids.shape}"
            )
        if lengths is None:
            return src_ids, np.full(B, S, dtype=np.int64)
        lens = _as_ids("lengths", lengths, 1)
        if lens.shape != (B,):
            raise ValueError(f"expected lengths of shape ({B},), got {lens.shape}")
        if lens.min() < 1 or lens.max() > S:
            raise ValueError(f"expected lengths in [1, {S}], got {lens.tolist()}")
        return src_ids, lens

    def encode(self, src: Any, lengths: ArrayLike | None = None) -> tuple[_Memory, Any]:
        """Run the encoder.

        Parameters
        ----------
        src : int array or Tensor of shape (S, B)
        lengths : ints of shape (B,) in [1, S], optional
            Valid steps per column (default: all S); steps past them are padding
            and change nothing.

        Returns
        -------
        memory : the encoder outputs (B, S, Hd), attention keys and padding mask
        state : the decoder's initial state, (L, B, Hd) (a pair (h, c) for LSTMs)
        """
        src_ids, lens = self._check_src(src, lengths)
        S = src_ids.shape[0]
        emb = F.dropout(self.src_embedding(src_ids), self.dropout, self.training)
        out, h_n = self.encoder(emb, lengths=lens)  # (S, B, Hd), (L*D, B, H)
        state = (
            (self._bridge(h_n[0]), self._bridge(h_n[1]))
            if self.cell == "lstm"
            else self._bridge(h_n)
        )
        values = out.transpose(0, 1)  # (B, S, Hd)
        keys = self.attn_proj(values) if self.attention else None
        mask = np.where(np.arange(S)[None, :] < lens[:, None], 0.0, _MASKED)
        return _Memory(values, keys, mask[:, None, :].astype(self._dtype())), state

    def _bridge(self, h_n: Tensor) -> Tensor:
        """(L*D, B, H) encoder final states -> (L, B, D*H), directions concatenated."""
        if not self.bidirectional:
            return h_n
        return cat([h_n[0::2], h_n[1::2]], dim=2)

    # --------------------------------------------------------------- decoder
    def _attend(self, dec: Tensor, memory: _Memory) -> Tensor:
        """Attention on decoder outputs dec (T, N, Hd) -> h~ (T, N, Hd)."""
        assert memory.keys is not None
        q = dec.transpose(0, 1)  # (N, T, Hd)
        scores = q @ memory.keys.transpose(1, 2)  # (N, T, S)
        weights = (scores + memory.mask).softmax(dim=-1)  # (N, T, S)
        context = weights @ memory.values  # (N, T, Hd)
        combined = self.attn_combine(cat([context, q], dim=2)).tanh()  # (N, T, Hd)
        return combined.transpose(0, 1)

    def _output(self, dec: Tensor, memory: _Memory) -> Tensor:
        """Decoder outputs (T, N, Hd) -> logits (T, N, V)."""
        dec = F.dropout(dec, self.dropout, self.training)
        if self.attention:
            dec = self._attend(dec, memory)
        return self.head(dec)

    def _split_state(self, state: Any) -> _StepState:
        """(L, N, Hd) state(s) -> per-layer lists for the step cells."""
        if self.cell == "lstm":
            h, c = state
            return [h[k] for k in range(self.num_layers)], [
                c[k] for k in range(self.num_layers)
            ]
        return [state[k] for k in range(self.num_layers)], None

    def _step(
        self, tokens: IntArray, state: _StepState, memory: _Memory
    ) -> tuple[Tensor, _StepState]:
        """One decoder step: previous tokens (N,) -> logits (N, V) and the new state."""
        hs, cs = state
        x = F.dropout(self.tgt_embedding(tokens), self.dropout, self.training)
        new_h: list[Tensor] = []
        new_c: list[Tensor] = []
        for k, step in enumerate(self._step_cells):
            if k > 0:  # as the whole-sequence layer: dropout between layers
                x = F.dropout(x, self.dropout, self.training)
            if cs is not None:
                h, c = step(x, (hs[k], cs[k]))
                new_c.append(c)
            else:
                h = step(x, hs[k])
            new_h.append(h)
            x = h
        logits = self._output(x.unsqueeze(0), memory)[0]  # (N, V)
        return logits, (new_h, new_c if cs is not None else None)

    def _log_probs(self, logits: NDArray[Any]) -> NDArray[Any]:
        """Log-softmax over the whole vocabulary, with <PAD> and <BOS> excluded."""
        logp = log_softmax_array(logits.astype(np.float64), axis=-1)
        logp[:, [self.pad_id, self.bos_id]] = -np.inf
        return logp

    # --------------------------------------------------------------- training
    def forward(
        self,
        src: Any,
        tgt: Any,
        lengths: ArrayLike | None = None,
        teacher_forcing_ratio: float = 1.0,
        generator: np.random.Generator | None = None,
    ) -> Tensor:
        """Decoder logits for ``tgt[1:]`` given ``tgt[:-1]`` (teacher forcing).

        Parameters
        ----------
        src : int array or Tensor of shape (S, B)
        tgt : int array or Tensor of shape (T, B), T >= 2
            ``<BOS> y_1 ... y_n <EOS>`` per column, padded with ``pad_id``.
        lengths : ints of shape (B,), optional
            Source lengths (see :meth:`encode`).
        teacher_forcing_ratio : float in [0, 1], default 1
            1: always feed the gold previous token; the decoder runs the whole
            sequence in one kernel call (fast path). Below 1 (scheduled sampling):
            the decoder runs step by step and, for each column and step, feeds its
            own greedy prediction of the previous step with probability
            ``1 - teacher_forcing_ratio`` (0: always its own predictions, no
            randomness). No gradient flows through the choice of the token.
        generator : numpy Generator, optional
            Source of the coin flips; default :func:`fastrnn.random.get_generator`
            (seeded by :func:`fastrnn.manual_seed`).

        Returns
        -------
        Tensor of shape (T - 1, B, V): logits, row t scoring ``tgt[t + 1]``.
        """
        tgt_ids = _as_ids("tgt", tgt, 2)
        memory, state = self.encode(src, lengths)
        B = memory.values.shape[0]
        if tgt_ids.shape[0] < 2 or tgt_ids.shape[1] != B:
            raise ValueError(
                f"expected tgt of shape (T >= 2, {B}) (<BOS> ... <EOS>), "
                f"got {tgt_ids.shape}"
            )
        ratio = teacher_forcing_ratio
        if isinstance(ratio, bool) or not isinstance(ratio, (int, float)):
            raise TypeError(
                f"expected teacher_forcing_ratio to be a float, got {ratio!r}"
            )
        if not 0 <= ratio <= 1:
            raise ValueError(f"expected teacher_forcing_ratio in [0, 1], got {ratio}")
        if ratio >= 1:  # fast path: one kernel call per decoder layer
            emb = F.dropout(
                self.tgt_embedding(tgt_ids[:-1]), self.dropout, self.training
            )
            dec, _ = self.decoder(emb, state)  # (T-1, B, Hd)
            return self._output(dec, memory)
        rng = generator if generator is not None else _random.get_generator()
        step_state = self._split_state(state)
        tokens = tgt_ids[0]
        outputs = []
        for t in range(tgt_ids.shape[0] - 1):
            logits, step_state = self._step(tokens, step_state, memory)
            outputs.append(logits)
            predicted = np.argmax(self._log_probs(logits.data), axis=1)
            if ratio <= 0:
                tokens = predicted
            else:
                gold = rng.random(B) < ratio
                tokens = np.where(gold, tgt_ids[t + 1], predicted)
        return stack(outputs, 0)

    def loss(self, logits: Tensor, tgt: Any) -> Tensor:
        """Mean cross-entropy of ``logits`` (T - 1, B, V) against ``tgt[1:]``.

        Target padding (``pad_id``) is ignored and not counted in the mean.
        """
        tgt_ids = _as_ids("tgt", tgt, 2)
        return F.cross_entropy(
            logits, tgt_ids[1:], ignore_index=self.pad_id, class_dim=-1
        )

    # --------------------------------------------------------------- decoding
    @no_grad()
    def greedy_decode(
        self,
        src: Any,
        lengths: ArrayLike | None = None,
        max_len: int = 50,
        return_scores: bool = False,
    ) -> list[list[int]] | tuple[list[list[int]], NDArray[np.float64]]:
        """Decode each column by taking the most likely token at every step.

        Runs in evaluation mode (no dropout) and restores the previous mode. All
        columns are decoded together; a column stops at ``<EOS>``, the batch when
        every column stopped or after ``max_len`` steps.

        Parameters
        ----------
        src : int array of shape (S, B); lengths : ints of shape (B,), optional
        max_len : int, default 50
            Most tokens generated per column, ``<EOS>`` included; a column that
            reaches it without ``<EOS>`` ends there.
        return_scores : bool
            Also return the log-probability of each output (``<EOS>`` included).

        Returns
        -------
        list of B lists of token ids (without ``<BOS>``/``<EOS>``), and with
        ``return_scores`` an array (B,) of log-probabilities.
        """
        max_len = _check_int("max_len", max_len, 1)
        was_training = self.training
        self.eval()
        try:
            memory, state = self.encode(src, lengths)
            B = memory.values.shape[0]
            step_state = self._split_state(state)
            tokens = np.full(B, self.bos_id, dtype=np.int64)
            outputs: list[list[int]] = [[] for _ in range(B)]
            scores = np.zeros(B)
            done = np.zeros(B, dtype=bool)
            for _ in range(max_len):
                logits, step_state = self._step(tokens, step_state, memory)
                logp = self._log_probs(logits.data)  # (B, V)
                tokens = np.argmax(logp, axis=1)
                live = ~done
                scores[live] += logp[live, tokens[live]]
                for b in np.flatnonzero(live):
                    if tokens[b] == self.eos_id:
                        done[b] = True
                    else:
                        outputs[b].append(int(tokens[b]))
                if done.all():
                    break
        finally:
            self.train(was_training)
        return (outputs, scores) if return_scores else outputs

    @no_grad()
    def beam_decode(
        self,
        src: Any,
        lengths: ArrayLike | None = None,
        beam_size: int = 5,
        max_len: int = 50,
        length_penalty: float = 1.0,
        return_scores: bool = False,
    ) -> list[list[int]] | tuple[list[list[int]], NDArray[np.float64]]:
        """Beam search, all columns at once (B*K decoder rows per step).

        At each step every live hypothesis is extended by every token; of the
        candidates of a column, those ending in ``<EOS>`` among the best K are
        finished (kept aside), and the best K others continue. A column stops when
        it has K finished hypotheses, or when no live hypothesis can still beat its
        best finished one (exact, since log-probabilities only decrease), or after
        ``max_len`` steps (live hypotheses then finish without ``<EOS>``). The
        answer is the finished hypothesis with the best score
        ``log p(y) / len(y) ** length_penalty``, with ``len`` counting ``<EOS>``.

        Runs in evaluation mode (no dropout) and restores the previous mode. With
        ``beam_size=1`` the result is the greedy decode; with a beam as wide as the
        number of candidates it is the exhaustive optimum.

        Parameters
        ----------
        src : int array of shape (S, B); lengths : ints of shape (B,), optional
        beam_size : int, default 5
            K.
        max_len : int, default 50
            Most tokens generated, ``<EOS>`` included.
        length_penalty : float, default 1
            0 ranks by total log-probability (favours short outputs); 1 by the mean
            per token.
        return_scores : bool
            Also return the (length-normalised) score of each answer.

        Returns
        -------
        list of B lists of token ids (without ``<BOS>``/``<EOS>``), and with
        ``return_scores`` an array (B,) of scores.
        """
        K = _check_int("beam_size", beam_size, 1)
        max_len = _check_int("max_len", max_len, 1)
        alpha = float(length_penalty)
        was_training = self.training
        self.eval()
        try:
            best = self._beam_search(src, lengths, K, max_len, alpha)
        finally:
            self.train(was_training)
        sequences = [seq for _, seq in best]
        scores = np.array([score for score, _ in best])
        return (sequences, scores) if return_scores else sequences

    def _beam_search(
        self, src: Any, lengths: Any, K: int, max_len: int, alpha: float
    ) -> list[tuple[float, list[int]]]:
        memory, state = self.encode(src, lengths)
        B = memory.values.shape[0]
        V = self.tgt_vocab_size
        rows = np.repeat(np.arange(B), K)  # decoder row b*K + k is beam k of column b
        memory = memory.take(rows)
        hs, cs = self._split_state(state)
        step_state: _StepState = (
            [Tensor(h.data[rows]) for h in hs],
            None if cs is None else [Tensor(c.data[rows]) for c in cs],
        )
        scores = np.full((B, K), -np.inf)  # raw log-probabilities of live beams
        scores[:, 0] = 0.0  # one live hypothesis (<BOS>) per column at first
        history = np.zeros((B, K, 0), dtype=np.int64)
        tokens = np.full(B * K, self.bos_id, dtype=np.int64)
        finished: list[list[tuple[float, list[int]]]] = [[] for _ in range(B)]
        done = np.zeros(B, dtype=bool)

        def normalised(score: float, length: int) -> float:
            return score / length**alpha

        for t in range(1, max_len + 1):
            logits, step_state = self._step(tokens, step_state, memory)
            logp = self._log_probs(logits.data).reshape(B, K, V)
            candidates = (scores[:, :, None] + logp).reshape(B, K * V)
            n_top = min(2 * K, K * V)  # at most K end in <EOS>: >= K others remain
            top = np.argsort(-candidates, axis=1, kind="stable")[:, :n_top]
            new_scores = np.full((B, K), -np.inf)
            parent = np.zeros((B, K), dtype=np.int64)
            chosen = np.full((B, K), self.bos_id, dtype=np.int64)
            for b in np.flatnonzero(~done):
                n_live = 0
                for rank, j in enumerate(top[b]):
                    score = candidates[b, j]
                    if score == -np.inf or n_live == K:
                        break
                    k, v = divmod(int(j), V)
                    if v == self.eos_id:
                        if rank < K:
                            seq = history[b, k].tolist()
                            finished[b].append((normalised(score, t), seq))
                    else:
                        new_scores[b, n_live] = score
                        parent[b, n_live], chosen[b, n_live] = k, v
                        n_live += 1
            history = np.concatenate(
                [
                    np.take_along_axis(history, parent[:, :, None], 1),
                    chosen[:, :, None],
                ],
                axis=2,
            )
            scores = new_scores
            for b in np.flatnonzero(~done):
                if len(finished[b]) >= K or not np.isfinite(scores[b]).any():
                    done[b] = True
                elif finished[b] and t < max_len:
                    # Live beams can only lose log-probability; with alpha >= 0 the
                    # best they can reach is their score at the longest length.
                    reach = max(t + 1, max_len) if alpha >= 0 else t + 1
                    bound = normalised(float(scores[b].max()), reach)
                    if max(s for s, _ in finished[b]) >= bound:
                        done[b] = True
            if done.all():
                break
            if t == max_len:  # out of steps: live hypotheses end without <EOS>
                for b in np.flatnonzero(~done):
                    for k in np.flatnonzero(np.isfinite(scores[b])):
                        seq = history[b, k].tolist()
                        finished[b].append((normalised(scores[b, k], t), seq))
                break
            order = (np.arange(B)[:, None] * K + parent).reshape(-1)  # (B*K,)
            hs, cs = step_state
            step_state = (
                [Tensor(h.data[order]) for h in hs],
                None if cs is None else [Tensor(c.data[order]) for c in cs],
            )
            tokens = chosen.reshape(-1)
        return [max(f, key=lambda item: item[0]) for f in finished]
