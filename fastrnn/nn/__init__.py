"""Neural-network layers, losses and initialisers with PyTorch's names and shapes."""

from fastrnn.nn import functional, init
from fastrnn.nn.activation import LogSoftmax, ReLU, Sigmoid, Softmax, Tanh
from fastrnn.nn.container import ModuleList, Sequential
from fastrnn.nn.dropout import Dropout
from fastrnn.nn.embedding import Embedding
from fastrnn.nn.linear import Linear
from fastrnn.nn.loss import BCEWithLogitsLoss, CrossEntropyLoss, MSELoss
from fastrnn.nn.module import IncompatibleKeys, Module, Parameter, StateDictKeyError

__all__ = [
    "BCEWithLogitsLoss",
    "CrossEntropyLoss",
    "Dropout",
    "Embedding",
    "IncompatibleKeys",
    "Linear",
    "LogSoftmax",
    "MSELoss",
    "Module",
    "ModuleList",
    "Parameter",
    "ReLU",
    "Sequential",
    "Sigmoid",
    "Softmax",
    "StateDictKeyError",
    "Tanh",
    "functional",
    "init",
]
