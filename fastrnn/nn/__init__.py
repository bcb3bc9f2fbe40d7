"""Neural-network layers, losses and initialisers with PyTorch's names and shapes."""

from fastrnn.nn import functional, init, utils
from fastrnn.nn.activation import LogSoftmax, ReLU, Sigmoid, Softmax, Tanh
from fastrnn.nn.container import ModuleList, Sequential
from fastrnn.nn.dropout import Dropout
from fastrnn.nn.embedding import Embedding
from fastrnn.nn.linear import Linear
from fastrnn.nn.loss import BCEWithLogitsLoss, CrossEntropyLoss, MSELoss
from fastrnn.nn.module import IncompatibleKeys, Module, Parameter, StateDictKeyError
from fastrnn.nn.rnn import CELL_ALIASES, GRU, LSTM, RNN, RNNBase, recurrent_layer
from fastrnn.nn.rnn_cell import GRUCell, LSTMCell, RNNCell, RNNCellBase

__all__ = [
    "BCEWithLogitsLoss",
    "CELL_ALIASES",
    "CrossEntropyLoss",
    "Dropout",
    "Embedding",
    "GRU",
    "GRUCell",
    "IncompatibleKeys",
    "LSTM",
    "LSTMCell",
    "Linear",
    "LogSoftmax",
    "MSELoss",
    "Module",
    "ModuleList",
    "Parameter",
    "RNN",
    "RNNBase",
    "RNNCell",
    "RNNCellBase",
    "ReLU",
    "Sequential",
    "Sigmoid",
    "Softmax",
    "StateDictKeyError",
    "Tanh",
    "functional",
    "init",
    "recurrent_layer",
    "utils",
]
