"""Optimizers and learning-rate schedulers with ``torch.optim``'s names and semantics.

All optimizers update ``param.data`` in place, skip parameters whose ``grad`` is
None, and have PyTorch's defaults and ``state_dict`` layout (see
:mod:`fastrnn.optim.optimizer`).
"""

from fastrnn.optim import lr_scheduler
from fastrnn.optim.adagrad import Adagrad
from fastrnn.optim.adam import Adam, AdamW
from fastrnn.optim.optimizer import Optimizer
from fastrnn.optim.rmsprop import RMSprop
from fastrnn.optim.sgd import SGD

__all__ = [
    "SGD",
    "Adagrad",
    "Adam",
    "AdamW",
    "Optimizer",
    "RMSprop",
    "lr_scheduler",
]
