"""fastrnn: Cython/OpenMP recurrent neural networks for the CPU."""

from fastrnn import functional, optim, random, train
from fastrnn._ops import exp, log, log_softmax, relu, sigmoid, softmax, tanh
from fastrnn._shape_ops import cat, concat, stack
from fastrnn._threads import get_num_threads, openmp_enabled, set_num_threads
from fastrnn.checkpoint import load, save
from fastrnn.random import manual_seed
from fastrnn.tensor import (
    Function,
    Tensor,
    enable_grad,
    get_default_dtype,
    is_grad_enabled,
    no_grad,
    ones,
    set_default_dtype,
    set_grad_enabled,
    tensor,
    zeros,
)
from fastrnn.trace import trace  # the function; it shadows the module name

__version__ = "0.1.0"

__all__ = [
    "Function",
    "Tensor",
    "__version__",
    "cat",
    "concat",
    "enable_grad",
    "exp",
    "functional",
    "get_default_dtype",
    "get_num_threads",
    "is_grad_enabled",
    "load",
    "log",
    "log_softmax",
    "manual_seed",
    "no_grad",
    "ones",
    "openmp_enabled",
    "optim",
    "random",
    "relu",
    "save",
    "set_default_dtype",
    "set_grad_enabled",
    "set_num_threads",
    "sigmoid",
    "softmax",
    "stack",
    "tanh",
    "train",
    "tensor",
    "trace",
    "zeros",
]
