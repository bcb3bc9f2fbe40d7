"""In-place parameter initialisation (``torch.nn.init``-shaped), drawing from fastrnn.random.

Every function fills ``tensor.data`` in place (keeping its dtype and identity, so
optimizers holding it still see it), records no graph, and returns the tensor.
Random values are drawn in float64 from :func:`fastrnn.random.get_generator`, so a
fixed ``fastrnn.manual_seed`` gives the same weights for float32 and float64 models.

Fans follow PyTorch: for a weight of shape ``(out, in, *k)`` fan-in is
``in * prod(k)`` and fan-out ``out * prod(k)``.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
from numpy.typing import NDArray

from fastrnn.random import get_generator
from fastrnn.tensor import Tensor

Array = NDArray[Any]


def _data(tensor: Tensor | Array) -> Array:
    data = tensor.data if isinstance(tensor, Tensor) else tensor
    if not isinstance(data, np.ndarray) or not np.issubdtype(data.dtype, np.floating):
        raise TypeError(
            f"expected a floating Tensor or ndarray to initialise, got "
            f"{type(tensor).__name__} with dtype {getattr(data, 'dtype', None)}"
        )
    return data


def _fill(tensor: Tensor | Array, values: Any) -> Tensor | Array:
    _data(tensor)[...] = values
    return tensor


def calculate_gain(nonlinearity: str, param: float | None = None) -> float:
    """The recommended gain for a nonlinearity (as ``torch.nn.init.calculate_gain``)."""
    if nonlinearity in ("linear", "identity", "sigmoid") or nonlinearity.startswith(
        "conv"
    ):
        return 1.0
    if nonlinearity == "tanh":
        return 5.0 / 3
    if nonlinearity == "relu":
        return math.sqrt(2.0)
    if nonlinearity == "leaky_relu":
        slope = 0.01 if param is None else float(param)
        return math.sqrt(2.0 / (1 + slope**2))
    if nonlinearity == "selu":
        return 3.0 / 4
    raise ValueError(
        "expected nonlinearity in linear, sigmoid, tanh, relu, leaky_relu, selu, "
        f"got {nonlinearity!r}"
    )


def calculate_fan_in_and_fan_out(tensor: Tensor | Array) -> tuple[int, int]:
    """``(fan_in, fan_out)`` of a weight with at least 2 dimensions."""
    shape = _data(tensor).shape
    if len(shape) < 2:
        raise ValueError(
            f"expected a tensor with at least 2 dimensions to compute fans, got "
            f"shape {shape}"
        )
    receptive = int(np.prod(shape[2:])) if len(shape) > 2 else 1
    return shape[1] * receptive, shape[0] * receptive


def uniform_(tensor: Tensor, a: float = 0.0, b: float = 1.0) -> Tensor:
    """Fill with U(a, b)."""
    return _fill(tensor, get_generator().uniform(a, b, size=_data(tensor).shape))


def normal_(tensor: Tensor, mean: float = 0.0, std: float = 1.0) -> Tensor:
    """Fill with N(mean, std^2)."""
    return _fill(tensor, get_generator().normal(mean, std, size=_data(tensor).shape))


def constant_(tensor: Tensor, val: float) -> Tensor:
    """Fill with ``val``."""
    return _fill(tensor, val)


def zeros_(tensor: Tensor) -> Tensor:
    return _fill(tensor, 0.0)


def ones_(tensor: Tensor) -> Tensor:
    return _fill(tensor, 1.0)


def xavier_uniform_(tensor: Tensor, gain: float = 1.0) -> Tensor:
    """U(-a, a) with ``a = gain * sqrt(6 / (fan_in + fan_out))`` (Glorot & Bengio)."""
    fan_in, fan_out = calculate_fan_in_and_fan_out(tensor)
    a = gain * math.sqrt(6.0 / (fan_in + fan_out))
    return uniform_(tensor, -a, a)


def xavier_normal_(tensor: Tensor, gain: float = 1.0) -> Tensor:
    """N(0, std^2) with ``std = gain * sqrt(2 / (fan_in + fan_out))``."""
    fan_in, fan_out = calculate_fan_in_and_fan_out(tensor)
    return normal_(tensor, 0.0, gain * math.sqrt(2.0 / (fan_in + fan_out)))


def _kaiming_std(tensor: Tensor, a: float, mode: str, nonlinearity: str) -> float:
    fan_in, fan_out = calculate_fan_in_and_fan_out(tensor)
    if mode not in ("fan_in", "fan_out"):
        raise ValueError(f"expected mode 'fan_in' or 'fan_out', got {mode!r}")
    fan = fan_in if mode == "fan_in" else fan_out
    return calculate_gain(nonlinearity, a) / math.sqrt(fan)


def kaiming_uniform_(
    tensor: Tensor,
    a: float = 0.0,
    mode: str = "fan_in",
    nonlinearity: str = "leaky_relu",
) -> Tensor:
    """U(-b, b) with ``b = gain * sqrt(3 / fan)`` (He et al. 2015).

    ``a=sqrt(5)`` gives U(-1/sqrt(fan_in), 1/sqrt(fan_in)), PyTorch's Linear default.
    """
    bound = math.sqrt(3.0) * _kaiming_std(tensor, a, mode, nonlinearity)
    return uniform_(tensor, -bound, bound)


def kaiming_normal_(
    tensor: Tensor,
    a: float = 0.0,
    mode: str = "fan_in",
    nonlinearity: str = "leaky_relu",
) -> Tensor:
    """N(0, std^2) with ``std = gain / sqrt(fan)``."""
    return normal_(tensor, 0.0, _kaiming_std(tensor, a, mode, nonlinearity))


def orthogonal_(tensor: Tensor, gain: float = 1.0) -> Tensor:
    """A (semi-)orthogonal matrix from the QR decomposition of a Gaussian matrix.

    As PyTorch: the tensor is viewed as ``(rows, cols)`` with ``rows = shape[0]``;
    the signs of Q's columns are fixed by R's diagonal so Q is uniformly (Haar)
    distributed. Rows are orthonormal if ``rows <= cols``, else columns are.
    """
    data = _data(tensor)
    if data.ndim < 2:
        raise ValueError(
            f"expected a tensor with at least 2 dimensions, got shape {data.shape}"
        )
    rows = data.shape[0]
    cols = data.size // rows
    flat = get_generator().standard_normal((rows, cols))
    if rows < cols:
        flat = flat.T
    q, r = np.linalg.qr(flat)  # q (max, min)
    q *= np.sign(np.diag(r))
    if rows < cols:
        q = q.T
    return _fill(tensor, (gain * q).reshape(data.shape))


def scaled_normal_(tensor: Tensor, sigma2: float, fan: int | None = None) -> Tensor:
    """N(0, sigma2 / n), with ``n = fan`` or the fan-in of the tensor.

    The recurrent init of the exploding/vanishing-gradient demo: for a ReLU vanilla
    RNN with a square recurrent matrix (n = H), ``sigma2=3`` makes gradients explode
    through time and ``sigma2=1.5`` makes them vanish (sigma2 = 2 is the critical
    value for ReLU). For a stacked ``(G*H, H)`` recurrent weight the fan-in is H.
    """
    if sigma2 < 0:
        raise ValueError(f"expected sigma2 >= 0, got {sigma2}")
    n = calculate_fan_in_and_fan_out(tensor)[0] if fan is None else int(fan)
    if n <= 0:
        raise ValueError(f"expected a positive fan, got {n}")
    return normal_(tensor, 0.0, math.sqrt(sigma2 / n))


def lstm_forget_bias_(bias: Tensor, hidden_size: int, value: float = 1.0) -> Tensor:
    """Set the forget-gate block ``bias[H:2H]`` of an LSTM bias of shape (4H,).

    PyTorch's gate order is i, f, g, o. PyTorch-style LSTMs have two biases
    (``bias_ih`` and ``bias_hh``) that add up, so set ``value`` on one of them and
    leave (or zero) the other's block to get an effective forget bias of ``value``.
    """
    data = _data(bias)
    if data.shape != (4 * hidden_size,):
        raise ValueError(
            f"expected an LSTM bias of shape ({4 * hidden_size},) for hidden_size="
            f"{hidden_size}, got {data.shape}"
        )
    data[hidden_size : 2 * hidden_size] = value
    return bias
