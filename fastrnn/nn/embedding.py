"""``Embedding``: a lookup table of vectors indexed by integer ids."""

from __future__ import annotations

from typing import Any

import numpy as np
from numpy.typing import DTypeLike

from fastrnn.nn import functional as F
from fastrnn.nn import init
from fastrnn.nn.module import Module, Parameter
from fastrnn.tensor import Tensor, get_default_dtype, no_grad


class Embedding(Module):
    """Map integer ids to rows of a weight matrix.

    Parameters
    ----------
    num_embeddings : int
        Vocabulary size.
    embedding_dim : int
    padding_idx : int, optional
        This row is initialised to zeros and never receives a gradient (negative
        values count from the end, as PyTorch).
    dtype : float32 (default) or float64

    Attributes
    ----------
    weight : Parameter of shape (num_embeddings, embedding_dim), initialised N(0, 1).

    Shapes: input (*) integers -> output (*, embedding_dim).
    """

    def __init__(
        self,
        num_embeddings: int,
        embedding_dim: int,
        padding_idx: int | None = None,
        dtype: DTypeLike | None = None,
    ) -> None:
        super().__init__()
        if num_embeddings <= 0 or embedding_dim <= 0:
            raise ValueError(
                f"expected positive sizes, got num_embeddings={num_embeddings}, "
                f"embedding_dim={embedding_dim}"
            )
        if padding_idx is not None:
            padding_idx = F._normalise_padding_idx(padding_idx, num_embeddings)
        self.num_embeddings = num_embeddings
        self.embedding_dim = embedding_dim
        self.padding_idx = padding_idx
        dt = np.dtype(dtype or get_default_dtype())
        self.weight = Parameter(np.empty((num_embeddings, embedding_dim), dtype=dt))
        self.reset_parameters()

    @no_grad()
    def reset_parameters(self) -> None:
        """Redraw N(0, 1) weights and zero the padding row."""
        init.normal_(self.weight)
        if self.padding_idx is not None:
            self.weight.data[self.padding_idx] = 0

    def forward(self, input: Tensor | Any) -> Tensor:
        return F.embedding(input, self.weight, self.padding_idx)

    def extra_repr(self) -> str:
        text = f"{self.num_embeddings}, {self.embedding_dim}"
        if self.padding_idx is not None:
            text += f", padding_idx={self.padding_idx}"
        return text
