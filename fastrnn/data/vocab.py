"""Token <-> id vocabularies, simple tokenizers and one-hot encoding.

A :class:`Vocab` maps string tokens to contiguous ``int64`` ids.  Special tokens come
first, so with the default ``specials`` the ids are fixed::

    <PAD> = 0, <UNK> = 1, <BOS> = 2, <EOS> = 3

and ordinary tokens follow from id ``len(specials)`` on.
"""

from __future__ import annotations

import numbers
import re
from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, DTypeLike, NDArray

__all__ = [
    "DEFAULT_SPECIALS",
    "Vocab",
    "char_tokenize",
    "one_hot",
    "word_tokenize",
]

PAD, UNK, BOS, EOS = "<PAD>", "<UNK>", "<BOS>", "<EOS>"
DEFAULT_SPECIALS: tuple[str, ...] = (PAD, UNK, BOS, EOS)

_FORMAT_VERSION = 1


def _check_int(name: str, value: object, minimum: int) -> int:
    """``value`` as an ``int`` >= ``minimum`` (bools and floats are rejected)."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise TypeError(f"expected {name} to be an int, got {type(value).__name__}")
    if value < minimum:
        raise ValueError(f"expected {name} >= {minimum}, got {value}")
    return int(value)


def _as_int_1d(name: str, value: ArrayLike) -> NDArray[np.int64]:
    """``value`` as a 1-D int64 array; float/bool/object input is an error."""
    if value is None:
        raise TypeError(f"expected {name} to be a 1-D integer array, got None")
    array = np.asarray(value)
    if array.ndim != 1:
        raise ValueError(
            f"expected {name} to be 1-D, got {array.ndim}-D with shape {array.shape}"
        )
    if array.size == 0:
        return np.zeros(0, dtype=np.int64)
    if array.dtype == np.bool_ or not np.issubdtype(array.dtype, np.integer):
        raise TypeError(f"expected {name} to have an integer dtype, got {array.dtype}")
    return array.astype(np.int64, copy=False)


# A word is a run of letters/digits/underscores, optionally with inner apostrophes
# ("don't", "o'clock"); every other non-space character is a token on its own.
_WORD_RE = re.compile(r"\w+(?:'\w+)*|[^\w\s]")


def char_tokenize(text: str) -> list[str]:
    """Split ``text`` into single characters (whitespace included).

    Parameters
    ----------
    text : str
        The text to split.

    Returns
    -------
    list of str
        ``list(text)``: one token per character, shape ``(len(text),)``.
    """
    if not isinstance(text, str):
        raise TypeError(f"expected text to be a str, got {type(text).__name__}")
    return list(text)


def word_tokenize(text: str, lower: bool = False) -> list[str]:
    """Split ``text`` into words and punctuation marks.

    Words are runs of letters, digits and underscores, keeping inner apostrophes
    (``"don't"`` stays one token); each other non-whitespace character is its own
    token; whitespace is dropped.

    Parameters
    ----------
    text : str
        The text to split.
    lower : bool, default False
        Lower-case the text first.

    Returns
    -------
    list of str
        The tokens, in order.

    Examples
    --------
    >>> word_tokenize("Hello, world! Don't stop.")
    ['Hello', ',', 'world', '!', "Don't", 'stop', '.']
    """
    if not isinstance(text, str):
        raise TypeError(f"expected text to be a str, got {type(text).__name__}")
    if lower:
        text = text.lower()
    return _WORD_RE.findall(text)


def one_hot(
    ids: ArrayLike, num_classes: int, dtype: DTypeLike = np.float32
) -> NDArray[Any]:
    """One-hot encode integer ids.

    Parameters
    ----------
    ids : array_like of int, shape ``S`` (any shape, e.g. ``(T, B)``)
        Class ids in ``[0, num_classes)``.
    num_classes : int
        Size of the last output axis, >= 1.
    dtype : dtype, default float32
        Output dtype.

    Returns
    -------
    ndarray, shape ``S + (num_classes,)``
        ``out[..., k] == 1`` where ``ids == k``, else 0.
    """
    num_classes = _check_int("num_classes", num_classes, 1)
    array = np.asarray(ids)
    if array.size and (
        array.dtype == np.bool_ or not np.issubdtype(array.dtype, np.integer)
    ):
        raise TypeError(f"expected ids to have an integer dtype, got {array.dtype}")
    array = array.astype(np.int64, copy=False)
    if array.size:
        lo, hi = int(array.min()), int(array.max())
        if lo < 0 or hi >= num_classes:
            bad = lo if lo < 0 else hi
            raise ValueError(f"expected ids in [0, {num_classes}), got {bad}")
    out = np.zeros(array.shape + (num_classes,), dtype=dtype)
    np.put_along_axis(out, array[..., None], 1, axis=-1)
    return out


def _as_tokens(item: object, tokenizer: Callable[[str], list[str]] | None) -> list[str]:
    """One build/encode input as a list of str tokens."""
    if isinstance(item, str):
        return tokenizer(item) if tokenizer is not None else list(item)
    if isinstance(item, (bytes, Mapping)) or not isinstance(item, Iterable):
        raise TypeError(
            f"expected a str or a sequence of str tokens, got {type(item).__name__}"
        )
    tokens = list(item)
    for i, tok in enumerate(tokens):
        if not isinstance(tok, str):
            raise TypeError(
                f"expected tokens to be str, got {type(tok).__name__} at position {i}"
            )
    return tokens


class Vocab:
    """A bidirectional token <-> id mapping with special tokens first.

    Parameters
    ----------
    tokens : sequence of str
        Ordinary tokens, in id order; they get ids ``len(specials), len(specials)+1,
        ...``.  Tokens that are also specials are skipped; duplicates are an error.
    specials : sequence of str, default ``("<PAD>", "<UNK>", "<BOS>", "<EOS>")``
        Special tokens; ``specials[i]`` gets id ``i``.
    unk_token : str or None, default ``"<UNK>"``
        The token unknown inputs map to in :meth:`encode`; must be one of
        ``specials``.  ``None`` makes unknown tokens an error.

    Attributes
    ----------
    itos : list of str
        Id -> token, ``len(self)`` entries.
    stoi : dict of str to int
        Token -> id.
    specials : tuple of str
        The special tokens (ids ``0 .. len(specials) - 1``).
    """

    def __init__(
        self,
        tokens: Sequence[str] = (),
        specials: Sequence[str] = DEFAULT_SPECIALS,
        unk_token: str | None = UNK,
    ) -> None:
        if isinstance(specials, str):
            raise TypeError("expected specials to be a sequence of str, got a str")
        specials = tuple(specials)
        for s in specials:
            if not isinstance(s, str):
                raise TypeError(f"expected specials to be str, got {type(s).__name__}")
        if len(set(specials)) != len(specials):
            raise ValueError(f"expected distinct specials, got {list(specials)}")
        if unk_token is not None and unk_token not in specials:
            raise ValueError(
                f"expected unk_token to be one of specials {list(specials)}, "
                f"got {unk_token!r}"
            )
        self.specials: tuple[str, ...] = specials
        self.unk_token: str | None = unk_token
        self.itos: list[str] = list(specials)
        self.stoi: dict[str, int] = {s: i for i, s in enumerate(specials)}
        if isinstance(tokens, str):
            raise TypeError("expected tokens to be a sequence of str, got a str")
        for tok in _as_tokens(tokens, None):
            if tok in self.stoi:
                if tok in specials:
                    continue
                raise ValueError(f"expected distinct tokens, got {tok!r} twice")
            self.stoi[tok] = len(self.itos)
            self.itos.append(tok)

    # -- construction -----------------------------------------------------------
    @classmethod
    def build(
        cls,
        data: str | Iterable[str | Sequence[str]],
        min_freq: int = 1,
        max_size: int | None = None,
        specials: Sequence[str] = DEFAULT_SPECIALS,
        unk_token: str | None = UNK,
        tokenizer: Callable[[str], list[str]] | None = None,
    ) -> Vocab:
        """Count tokens in ``data`` and build a vocabulary from them.

        Parameters
        ----------
        data : str or iterable of (str or sequence of str)
            A single ``str`` is one text; otherwise each item is one text (``str``)
            or one already-tokenized sequence (e.g. a list of words).  Texts are
            split with ``tokenizer``, or into characters when it is ``None``.
        min_freq : int, default 1
            Keep only tokens seen at least this many times.
        max_size : int or None, default None
            Maximum total size *including* the specials; the most frequent tokens
            are kept.  Must be >= ``len(specials)``.
        specials, unk_token
            As for :class:`Vocab`.
        tokenizer : callable or None
            ``str -> list[str]``, e.g. :func:`word_tokenize`.

        Returns
        -------
        Vocab

        Notes
        -----
        Ordering is deterministic: by frequency, descending; ties are broken by
        first appearance in ``data``.  Special tokens found in ``data`` are not
        counted (they already have ids).
        """
        min_freq = _check_int("min_freq", min_freq, 1)
        n_specials = len(tuple(specials)) if not isinstance(specials, str) else 0
        if max_size is not None:
            max_size = _check_int("max_size", max_size, n_specials)
        items = [data] if isinstance(data, str) else data
        if not isinstance(items, Iterable):
            raise TypeError(
                f"expected data to be a str or an iterable, got {type(data).__name__}"
            )
        counts: Counter[str] = Counter()
        first_seen: dict[str, int] = {}
        for item in items:
            for tok in _as_tokens(item, tokenizer):
                counts[tok] += 1
                first_seen.setdefault(tok, len(first_seen))
        special_set = set(specials) if not isinstance(specials, str) else set()
        kept = [t for t, c in counts.items() if c >= min_freq and t not in special_set]
        kept.sort(key=lambda t: (-counts[t], first_seen[t]))
        if max_size is not None:
            kept = kept[: max_size - n_specials]
        return cls(kept, specials=specials, unk_token=unk_token)

    # -- mapping ----------------------------------------------------------------
    def __len__(self) -> int:
        return len(self.itos)

    def __contains__(self, token: object) -> bool:
        return isinstance(token, str) and token in self.stoi

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Vocab):
            return NotImplemented
        return (
            self.itos == other.itos
            and self.specials == other.specials
            and self.unk_token == other.unk_token
        )

    __hash__ = None  # type: ignore[assignment]  # mutable-by-convention, like a dict

    def __repr__(self) -> str:
        return f"Vocab(size={len(self)}, specials={list(self.specials)})"

    def _special_id(self, token: str) -> int | None:
        return self.stoi[token] if token in self.specials else None

    @property
    def pad_id(self) -> int | None:
        """Id of ``"<PAD>"`` (``None`` if it is not a special)."""
        return self._special_id(PAD)

    @property
    def unk_id(self) -> int | None:
        """Id of ``unk_token`` (``None`` if unknown tokens are an error)."""
        return None if self.unk_token is None else self.stoi[self.unk_token]

    @property
    def bos_id(self) -> int | None:
        """Id of ``"<BOS>"`` (``None`` if it is not a special)."""
        return self._special_id(BOS)

    @property
    def eos_id(self) -> int | None:
        """Id of ``"<EOS>"`` (``None`` if it is not a special)."""
        return self._special_id(EOS)

    def encode(
        self, tokens: str | Sequence[str], add_bos: bool = False, add_eos: bool = False
    ) -> NDArray[np.int64]:
        """Map tokens to ids.

        Parameters
        ----------
        tokens : str or sequence of str
            The tokens; a ``str`` is split into characters.
        add_bos, add_eos : bool, default False
            Prepend ``<BOS>`` / append ``<EOS>`` (they must be specials).

        Returns
        -------
        ndarray of int64, shape ``(N,)``
            Unknown tokens map to :attr:`unk_id`.
        """
        toks = _as_tokens(tokens, None)
        unk = self.unk_id
        ids = []
        for i, tok in enumerate(toks):
            idx = self.stoi.get(tok, unk)
            if idx is None:
                raise KeyError(
                    f"expected a token in the vocabulary (unk_token is None), "
                    f"got {tok!r} at position {i}"
                )
            ids.append(idx)
        for flag, name, idx in (
            (add_bos, BOS, self.bos_id),
            (add_eos, EOS, self.eos_id),
        ):
            if flag and idx is None:
                raise ValueError(
                    f"expected {name} among specials, got {list(self.specials)}"
                )
        if add_bos:
            ids.insert(0, self.bos_id)
        if add_eos:
            ids.append(self.eos_id)
        return np.asarray(ids, dtype=np.int64)

    def decode(self, ids: ArrayLike, skip_specials: bool = False) -> list[str]:
        """Map ids back to tokens.

        Parameters
        ----------
        ids : array_like of int, shape ``(N,)``
            Ids in ``[0, len(self))``.
        skip_specials : bool, default False
            Drop special tokens from the output.

        Returns
        -------
        list of str
            ``N`` tokens (fewer if ``skip_specials``).
        """
        array = np.asarray(ids)
        if array.ndim != 1:
            raise ValueError(
                f"expected ids to be 1-D, got {array.ndim}-D with shape {array.shape}"
            )
        if array.size and (
            array.dtype == np.bool_ or not np.issubdtype(array.dtype, np.integer)
        ):
            raise TypeError(f"expected ids to have an integer dtype, got {array.dtype}")
        out = []
        n_specials = len(self.specials)
        for i, idx in enumerate(array.tolist()):
            if not 0 <= idx < len(self.itos):
                raise ValueError(
                    f"expected ids in [0, {len(self.itos)}), got {idx} at position {i}"
                )
            if skip_specials and idx < n_specials:
                continue
            out.append(self.itos[idx])
        return out

    # -- serialization ----------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        """A JSON-serialisable description, for checkpoints; see :meth:`from_dict`."""
        return {
            "version": _FORMAT_VERSION,
            "specials": list(self.specials),
            "unk_token": self.unk_token,
            "itos": list(self.itos),
        }

    @classmethod
    def from_dict(cls, state: Mapping[str, Any]) -> Vocab:
        """Rebuild a vocabulary from :meth:`to_dict` output."""
        if not isinstance(state, Mapping):
            raise TypeError(f"expected a dict, got {type(state).__name__}")
        missing = {"version", "specials", "unk_token", "itos"} - set(state)
        if missing:
            raise ValueError(
                f"expected keys {sorted(missing)} in the vocab dict, got {sorted(state)}"
            )
        if state["version"] != _FORMAT_VERSION:
            raise ValueError(
                f"expected vocab format version {_FORMAT_VERSION}, got {state['version']!r}"
            )
        specials = list(state["specials"])
        itos = list(state["itos"])
        if itos[: len(specials)] != specials:
            raise ValueError(
                f"expected itos to start with the specials {specials}, "
                f"got {itos[: len(specials)]}"
            )
        return cls(
            itos[len(specials) :], specials=specials, unk_token=state["unk_token"]
        )
