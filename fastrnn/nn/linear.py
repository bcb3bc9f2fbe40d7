"""``Linear``: an affine map over the last axis."""

from __future__ import annotations

import math

import numpy as np
from numpy.typing import DTypeLike

from fastrnn.nn import functional as F
from fastrnn.nn import init
from fastrnn.nn.module import Module, Parameter
from fastrnn.tensor import Tensor, get_default_dtype, no_grad


class Linear(Module):
    """``y = x W^T + b``.

    Parameters
    ----------
    in_features, out_features : int
    bias : bool
    dtype : float32 (default) or float64

    Attributes
    ----------
    weight : Parameter of shape (out_features, in_features)
        Initialised U(-1/sqrt(in_features), 1/sqrt(in_features)), as PyTorch
        (kaiming_uniform_ with a=sqrt(5)).
    bias : Parameter of shape (out_features,) or None
        Initialised U(-1/sqrt(in_features), 1/sqrt(in_features)).

    Shapes: input (*, in_features) -> output (*, out_features).
    """

    def __init__(
        self,
        in_features: int,
        out_features: int,
        bias: bool = True,
        dtype: DTypeLike | None = None,
    ) -> None:
        super().__init__()
        if in_features < 0 or out_features < 0:
            raise ValueError(
                f"expected non-negative sizes, got in_features={in_features}, "
                f"out_features={out_features}"
            )
        dt = np.dtype(dtype or get_default_dtype())
        self.in_features = in_features
        self.out_features = out_features
        self.weight = Parameter(np.empty((out_features, in_features), dtype=dt))
        if bias:
            self.bias = Parameter(np.empty(out_features, dtype=dt))
        else:
            self.register_parameter("bias", None)
        self.reset_parameters()

    @no_grad()
    def reset_parameters(self) -> None:
        """Redraw the weights from PyTorch's default distributions."""
        init.kaiming_uniform_(self.weight, a=math.sqrt(5))
        if self.bias is not None:
            bound = 1 / math.sqrt(self.in_features) if self.in_features > 0 else 0
            init.uniform_(self.bias, -bound, bound)

    def forward(self, input: Tensor) -> Tensor:
        return F.linear(input, self.weight, self.bias)

    def extra_repr(self) -> str:
        return (
            f"in_features={self.in_features}, out_features={self.out_features}, "
            f"bias={self.bias is not None}"
        )
