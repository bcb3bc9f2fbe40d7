"""Loss modules; each wraps the fused function of the same name in nn.functional."""

from __future__ import annotations

from typing import Any

import numpy as np

from fastrnn.nn import functional as F
from fastrnn.nn.module import Module
from fastrnn.tensor import Tensor


class _Loss(Module):
    def __init__(self, reduction: str = "mean") -> None:
        super().__init__()
        F._check_reduction(reduction)
        self.reduction = reduction

    def extra_repr(self) -> str:
        return "" if self.reduction == "mean" else f"reduction={self.reduction!r}"


class CrossEntropyLoss(_Loss):
    """Softmax cross-entropy with class-index targets (see ``F.cross_entropy``).

    Input (N, C) or (N, C, d1, ...) logits, target (N,) or (N, d1, ...) ints;
    targets equal to ``ignore_index`` are skipped and not counted in the mean.
    ``class_dim=-1`` accepts class-last logits (..., C) with targets (...).
    """

    def __init__(
        self,
        ignore_index: int = -100,
        reduction: str = "mean",
        label_smoothing: float = 0.0,
        class_dim: int | None = None,
    ) -> None:
        super().__init__(reduction)
        if not 0 <= label_smoothing <= 1:
            raise ValueError(
                f"expected label_smoothing in [0, 1], got {label_smoothing}"
            )
        self.ignore_index = ignore_index
        self.label_smoothing = label_smoothing
        self.class_dim = class_dim

    def forward(self, input: Tensor, target: Tensor | Any) -> Tensor:
        return F.cross_entropy(
            input,
            target,
            self.ignore_index,
            self.reduction,
            self.label_smoothing,
            self.class_dim,
        )


class MSELoss(_Loss):
    """Mean squared error; target of the input's shape."""

    def forward(self, input: Tensor, target: Tensor | Any) -> Tensor:
        return F.mse_loss(input, target, self.reduction)


class BCEWithLogitsLoss(_Loss):
    """Sigmoid + binary cross-entropy, stable (see ``F.binary_cross_entropy_with_logits``)."""

    def __init__(self, reduction: str = "mean", pos_weight: Any | None = None) -> None:
        super().__init__(reduction)
        self.pos_weight = None if pos_weight is None else np.asarray(pos_weight)

    def forward(self, input: Tensor, target: Tensor | Any) -> Tensor:
        return F.binary_cross_entropy_with_logits(
            input, target, self.reduction, self.pos_weight
        )
