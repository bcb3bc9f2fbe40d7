"""``Dropout``: inverted dropout, active only in training mode."""

from __future__ import annotations

from fastrnn.nn import functional as F
from fastrnn.nn.module import Module
from fastrnn.tensor import Tensor


class Dropout(Module):
    """Zero each element with probability ``p`` and scale the rest by 1/(1-p).

    Identity in eval mode and for ``p=0``. Masks come from fastrnn.random, so
    ``fastrnn.manual_seed`` makes them reproducible.

    Parameters
    ----------
    p : float in [0, 1]
    """

    def __init__(self, p: float = 0.5) -> None:
        super().__init__()
        F._check_p(p)
        self.p = float(p)

    def forward(self, input: Tensor) -> Tensor:
        return F.dropout(input, self.p, self.training)

    def extra_repr(self) -> str:
        return f"p={self.p}"
