"""A training loop for fastrnn models: :class:`Trainer` (see :mod:`fastrnn.train.trainer`)."""

from fastrnn.train.trainer import (
    DivergenceError,
    StepRecord,
    Trainer,
    TrainState,
    load_checkpoint,
)

__all__ = ["DivergenceError", "StepRecord", "TrainState", "Trainer", "load_checkpoint"]
