"""The run-setup form of the explorer: every :class:`gui.protocol.RunConfig` field.

The form is split into group boxes (data, model, optimisation, sampling and probe,
performance, and the exploding/vanishing demo). While a run is going
(:meth:`SetupPanel.set_running`), only the *live* fields stay editable: learning
rate, clipping mode and threshold, temperature and the probe text. Changing one of
them emits :attr:`SetupPanel.live_changed` (a dict for a ``"set"`` command) or
:attr:`SetupPanel.probe_requested`; the window forwards them to the worker.
"""

from __future__ import annotations

import os
from dataclasses import replace
from pathlib import Path

from PyQt6.QtCore import pyqtSignal, pyqtSlot
from PyQt6.QtWidgets import (
    QAbstractSpinBox,
    QCheckBox,
    QComboBox,
    QDoubleSpinBox,
    QFileDialog,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QLineEdit,
    QPushButton,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from gui.protocol import CELL_CHOICES, RunConfig

__all__ = ["DEMO_SIGMA2", "OPTIMIZER_LABELS", "SetupPanel"]

#: Optimizer name -> label in the combo box.
OPTIMIZER_LABELS: dict[str, str] = {
    "adam": "Adam",
    "adamw": "AdamW",
    "sgd": "SGD (momentum 0.9)",
    "rmsprop": "RMSprop",
    "adagrad": "Adagrad",
}
_CLIP_LABELS = {
    "norm": "global norm",
    "value": "per value",
    "none": "none",
}
_WINDOW_LABELS = {
    "contiguous": "contiguous (state carried)",
    "random": "random (fresh state)",
}
_INIT_LABELS = {
    "default": "PyTorch default (uniform)",
    "normal": "normal N(0, σ²/H)",
}
#: The two recurrent-init variances of the exploding/vanishing demo (ReLU RNN).
DEMO_SIGMA2 = {"explode": 3.0, "vanish": 1.5}
_BUNDLED = "bundled tiny Shakespeare"


def _combo(items: dict[str, str], tip: str) -> QComboBox:
    box = QComboBox()
    for key, label in items.items():
        box.addItem(label, key)
    box.setToolTip(tip)
    return box


def _spin(low: int, high: int, value: int, tip: str, special: str = "") -> QSpinBox:
    box = QSpinBox()
    box.setRange(low, high)
    box.setValue(value)
    box.setToolTip(tip)
    box.setKeyboardTracking(False)
    if special:
        box.setSpecialValueText(special)  # shown for the minimum
    return box


def _dspin(
    low: float, high: float, value: float, decimals: int, tip: str
) -> QDoubleSpinBox:
    box = QDoubleSpinBox()
    box.setDecimals(decimals)
    box.setRange(low, high)
    box.setValue(value)
    box.setToolTip(tip)
    box.setKeyboardTracking(False)  # one valueChanged per edit, not per keystroke
    box.setStepType(QAbstractSpinBox.StepType.AdaptiveDecimalStepType)
    return box


def _select(box: QComboBox, key: str) -> None:
    index = box.findData(key)
    if index < 0:
        raise ValueError(
            f"expected one of {[box.itemData(i) for i in range(box.count())]}, "
            f"got {key!r}"
        )
    box.setCurrentIndex(index)


class SetupPanel(QWidget):
    """Form for a :class:`RunConfig` (see the module docstring).

    Signals
    -------
    live_changed(dict)
        ``{"lr": ...}``, ``{"clip": ...}``, ``{"clip_mode": ...}`` or
        ``{"temperature": ...}`` after the user changed a live field.
    probe_requested(str)
        The probe text, when "Apply" is clicked (or Return pressed) in the probe box.
    demo_requested(float)
        The recurrent-init variance of the demo button that was clicked, after the
        form was set up for it (:meth:`apply_demo`).
    """

    live_changed = pyqtSignal(dict)
    probe_requested = pyqtSignal(str)
    demo_requested = pyqtSignal(float)

    def __init__(
        self, config: RunConfig | None = None, parent: QWidget | None = None
    ) -> None:
        super().__init__(parent)
        self._corpus: str | None = None
        self._checkpoint: str | None = None
        self._running = False

        # ---- demo
        self.explode_button = QPushButton("σ² = 3.0: explodes")
        self.vanish_button = QPushButton("σ² = 1.5: vanishes")
        for button, key in (
            (self.explode_button, "explode"),
            (self.vanish_button, "vanish"),
        ):
            s2 = DEMO_SIGMA2[key]
            button.setToolTip(
                f"ReLU RNN with recurrent weights from N(0, {s2}/H), then start "
                "(watch the Gradient flow tab)"
            )
            button.clicked.connect(lambda _=False, s2=s2: self._on_demo(s2))
        demo = QGroupBox("Exploding / vanishing demo")
        row = QHBoxLayout(demo)
        row.addWidget(self.explode_button)
        row.addWidget(self.vanish_button)

        # ---- live
        self.lr = _dspin(1e-6, 10.0, 3e-3, 6, "learning rate (changes a running run)")
        self.clip_mode = _combo(
            _CLIP_LABELS, "gradient clipping (changes a running run)"
        )
        self.clip = _dspin(1e-4, 1e4, 1.0, 4, "clipping threshold (norm or value)")
        self.temperature = _dspin(
            0.0, 5.0, 0.8, 2, "sampling temperature (0 = greedy; live)"
        )
        self.temperature.setSingleStep(0.1)
        self.probe_text = QLineEdit()
        self.probe_text.setPlaceholderText("default: start of the validation text")
        self.probe_text.setToolTip(
            "text whose hidden states, gates and gradients are shown; the last "
            "character is only a target (Return or Apply sends it to the run)"
        )
        self.probe_button = QPushButton("Apply")
        self.probe_button.setToolTip("trace the model on this text now")
        self.probe_button.clicked.connect(self._on_probe)
        self.probe_text.returnPressed.connect(self._on_probe)
        probe_row = QHBoxLayout()
        probe_row.addWidget(self.probe_text, 1)
        probe_row.addWidget(self.probe_button)
        live = QGroupBox("Live (also while training)")
        form = QFormLayout(live)
        form.addRow("learning rate", self.lr)
        form.addRow("clipping", self.clip_mode)
        form.addRow("clip threshold", self.clip)
        form.addRow("temperature", self.temperature)
        form.addRow("probe text", probe_row)
        self.lr.valueChanged.connect(lambda v: self._live({"lr": float(v)}))
        self.clip.valueChanged.connect(lambda v: self._live({"clip": float(v)}))
        self.temperature.valueChanged.connect(
            lambda v: self._live({"temperature": float(v)})
        )
        self.clip_mode.currentIndexChanged.connect(self._on_clip_mode)

        # ---- data
        self.corpus_label = QLineEdit(_BUNDLED)
        self.corpus_label.setReadOnly(True)
        self.corpus_label.setToolTip("training text; the last 10% is validation")
        self.corpus_file_button = QPushButton("File…")
        self.corpus_dir_button = QPushButton("Folder…")
        self.corpus_bundled_button = QPushButton("Bundled")
        self.corpus_file_button.setToolTip("a UTF-8 text file")
        self.corpus_dir_button.setToolTip(
            "a folder: every text or source file under it, joined"
        )
        self.corpus_bundled_button.setToolTip("tiny Shakespeare (1.1 M characters)")
        self.corpus_file_button.clicked.connect(self._choose_file)
        self.corpus_dir_button.clicked.connect(self._choose_dir)
        self.corpus_bundled_button.clicked.connect(lambda: self.set_corpus(None))
        corpus_buttons = QHBoxLayout()
        for b in (
            self.corpus_file_button,
            self.corpus_dir_button,
            self.corpus_bundled_button,
        ):
            corpus_buttons.addWidget(b)
        self.windows = _combo(_WINDOW_LABELS, "how training windows are cut")
        self.seq_len = _spin(1, 100_000, 64, "truncated BPTT length (time steps)")
        self.batch_size = _spin(1, 4096, 32, "parallel sequences per step")
        self.seed = _spin(0, 2**31 - 1, 0, "random seed (same seed, same run)")
        self.checkpoint_label = QLineEdit("")
        self.checkpoint_label.setReadOnly(True)
        self.checkpoint_label.setPlaceholderText("fresh weights")
        self.checkpoint_label.setToolTip(
            "start training from these weights (their architecture wins)"
        )
        self.checkpoint_button = QPushButton("Weights…")
        self.checkpoint_clear = QPushButton("Fresh")
        self.checkpoint_button.clicked.connect(self._choose_checkpoint)
        self.checkpoint_clear.clicked.connect(lambda: self.set_start_checkpoint(None))
        ckpt_row = QHBoxLayout()
        ckpt_row.addWidget(self.checkpoint_label, 1)
        ckpt_row.addWidget(self.checkpoint_button)
        ckpt_row.addWidget(self.checkpoint_clear)
        data = QGroupBox("Data")
        form = QFormLayout(data)
        form.addRow("corpus", self.corpus_label)
        form.addRow("", corpus_buttons)
        form.addRow("windows", self.windows)
        form.addRow("TBPTT length", self.seq_len)
        form.addRow("batch size", self.batch_size)
        form.addRow("seed", self.seed)
        form.addRow("start from", ckpt_row)

        # ---- model
        self.cell = _combo(CELL_CHOICES, "recurrent cell")
        self.hidden_size = _spin(1, 4096, 128, "hidden units per layer (H)")
        self.num_layers = _spin(1, 16, 2, "stacked recurrent layers")
        self.embedding_dim = _spin(1, 4096, 64, "character embedding size")
        self.dropout = _dspin(0.0, 0.95, 0.0, 2, "dropout between layers")
        self.dropout.setStepType(QAbstractSpinBox.StepType.DefaultStepType)
        self.dropout.setSingleStep(0.05)
        self.recurrent_init = _combo(_INIT_LABELS, "initialisation of weight_hh")
        self.init_sigma2 = _dspin(0.0, 100.0, 3.0, 2, "σ² of the normal init")
        self.init_sigma2.setStepType(QAbstractSpinBox.StepType.DefaultStepType)
        self.init_sigma2.setSingleStep(0.5)
        self.recurrent_init.currentIndexChanged.connect(self._sync_enabled)
        self.bidirectional = QCheckBox("bidirectional")
        self.bidirectional.setEnabled(False)
        self.bidirectional.setToolTip(
            "not available: a language model predicts the next character, so it "
            "must not read the characters after it"
        )
        model = QGroupBox("Model")
        form = QFormLayout(model)
        form.addRow("cell", self.cell)
        form.addRow("hidden size", self.hidden_size)
        form.addRow("layers", self.num_layers)
        form.addRow("embedding", self.embedding_dim)
        form.addRow("dropout", self.dropout)
        form.addRow("recurrent init", self.recurrent_init)
        form.addRow("σ²", self.init_sigma2)
        form.addRow("", self.bidirectional)

        # ---- optimisation (non-live part)
        self.optimizer = _combo(OPTIMIZER_LABELS, "optimizer")
        self.sample_len = _spin(2, 10_000, 200, "characters per sample")
        self.probe_len = _spin(2, 2000, 80, "characters of the default probe")
        self.threads = _spin(
            0, 256, 0, "kernel threads of the training process", "all cores"
        )
        self.max_steps = _spin(0, 10**9, 0, "stop after this many steps", "no limit")
        self.budget = _spin(
            1, 100, 10, "at most this % of the time for traces, samples, validation"
        )
        self.budget.setSuffix(" %")
        self.nice = _spin(
            0,
            19,
            5,
            "scheduling niceness of the training process: higher lets the window "
            "draw first when all cores are busy (0 = same priority)",
        )
        other = QGroupBox("Training")
        form = QFormLayout(other)
        form.addRow("optimizer", self.optimizer)
        form.addRow("sample length", self.sample_len)
        form.addRow("probe length", self.probe_len)
        form.addRow("threads", self.threads)
        form.addRow("max steps", self.max_steps)
        form.addRow("snapshot budget", self.budget)
        form.addRow("worker nice", self.nice)

        layout = QVBoxLayout(self)
        layout.setContentsMargins(2, 2, 2, 2)
        for box in (demo, live, model, data, other):
            layout.addWidget(box)
        layout.addStretch(1)
        self._locked = [
            self.cell,
            self.hidden_size,
            self.num_layers,
            self.embedding_dim,
            self.dropout,
            self.recurrent_init,
            self.init_sigma2,
            self.optimizer,
            self.corpus_file_button,
            self.corpus_dir_button,
            self.corpus_bundled_button,
            self.windows,
            self.seq_len,
            self.batch_size,
            self.seed,
            self.checkpoint_button,
            self.checkpoint_clear,
            self.sample_len,
            self.probe_len,
            self.threads,
            self.max_steps,
            self.budget,
            self.nice,
            self.explode_button,
            self.vanish_button,
        ]
        self._extra = RunConfig()  # fields without a widget are kept from here
        self.set_config(config or RunConfig())

    # ------------------------------------------------------------------ config
    def config(self) -> RunConfig:
        """The form as a RunConfig (mode "train")."""
        probe = self.probe_text.text()
        return replace(
            self._extra,
            corpus=self._corpus,
            cell=self.cell.currentData(),
            hidden_size=self.hidden_size.value(),
            num_layers=self.num_layers.value(),
            embedding_dim=self.embedding_dim.value(),
            dropout=round(self.dropout.value(), 6),
            optimizer=self.optimizer.currentData(),
            lr=self.lr.value(),
            clip_mode=self.clip_mode.currentData(),
            clip=self.clip.value(),
            seq_len=self.seq_len.value(),
            batch_size=self.batch_size.value(),
            seed=self.seed.value(),
            temperature=self.temperature.value(),
            recurrent_init=self.recurrent_init.currentData(),
            init_sigma2=self.init_sigma2.value(),
            probe_text=probe if len(probe) >= 2 else None,
            probe_len=self.probe_len.value(),
            sample_len=self.sample_len.value(),
            threads=self.threads.value() or None,
            max_steps=self.max_steps.value() or None,
            checkpoint=self._checkpoint,
            mode="train",
            windows=self.windows.currentData(),
            snapshot_budget=self.budget.value() / 100.0,
            worker_nice=self.nice.value(),
        )

    def set_config(self, config: RunConfig) -> None:
        """Show ``config`` in the form (no live signals are emitted)."""
        self._extra = replace(config)
        widgets = [*self._locked, self.lr, self.clip, self.clip_mode, self.temperature]
        for w in widgets:
            w.blockSignals(True)
        try:
            self.set_corpus(config.corpus)
            self.set_start_checkpoint(config.checkpoint)
            _select(self.cell, config.cell)
            self.hidden_size.setValue(config.hidden_size)
            self.num_layers.setValue(config.num_layers)
            self.embedding_dim.setValue(config.embedding_dim)
            self.dropout.setValue(config.dropout)
            _select(self.optimizer, config.optimizer)
            self.lr.setValue(config.lr)
            _select(self.clip_mode, config.clip_mode)
            self.clip.setValue(config.clip)
            self.seq_len.setValue(config.seq_len)
            self.batch_size.setValue(config.batch_size)
            self.seed.setValue(config.seed)
            self.temperature.setValue(config.temperature)
            _select(self.recurrent_init, config.recurrent_init)
            self.init_sigma2.setValue(config.init_sigma2)
            self.probe_text.setText(config.probe_text or "")
            self.probe_len.setValue(config.probe_len)
            self.sample_len.setValue(config.sample_len)
            self.threads.setValue(config.threads or 0)
            self.max_steps.setValue(config.max_steps or 0)
            _select(self.windows, config.windows)
            self.budget.setValue(max(1, round(config.snapshot_budget * 100)))
            self.nice.setValue(config.worker_nice)
        finally:
            for w in widgets:
                w.blockSignals(False)
        self._sync_enabled()

    def set_corpus(self, path: str | os.PathLike[str] | None) -> None:
        """Train on ``path`` (a file or folder), or the bundled corpus for None."""
        self._corpus = None if path is None else os.fspath(path)
        self.corpus_label.setText(_BUNDLED if path is None else self._corpus)
        self.corpus_label.setCursorPosition(0)

    def set_start_checkpoint(self, path: str | os.PathLike[str] | None) -> None:
        """Start training from the weights in ``path`` (None: fresh weights)."""
        self._checkpoint = None if path is None else os.fspath(path)
        self.checkpoint_label.setText(self._checkpoint or "")

    def apply_demo(self, sigma2: float) -> None:
        """Set up the exploding/vanishing demo: ReLU RNN, N(0, sigma2/H) recurrent init."""
        _select(self.cell, "rnn_relu")
        _select(self.recurrent_init, "normal")
        self.init_sigma2.setValue(float(sigma2))
        self.set_start_checkpoint(None)

    def show_model(self, cell: str, hidden_size: int, num_layers: int) -> None:
        """Show the architecture of a loaded model in the form (no signals)."""
        for w, value in (
            (self.hidden_size, hidden_size),
            (self.num_layers, num_layers),
        ):
            w.blockSignals(True)
            w.setValue(int(value))
            w.blockSignals(False)
        self.cell.blockSignals(True)
        _select(self.cell, cell)
        self.cell.blockSignals(False)

    def set_running(self, running: bool) -> None:
        """Lock everything but the live fields while a run is going."""
        self._running = bool(running)
        for w in self._locked:
            w.setEnabled(not running)
        self._sync_enabled()

    @property
    def running(self) -> bool:
        return self._running

    # ------------------------------------------------------------------ slots
    def _sync_enabled(self) -> None:
        normal = self.recurrent_init.currentData() == "normal"
        self.init_sigma2.setEnabled(normal and not self._running)
        self.clip.setEnabled(self.clip_mode.currentData() != "none")

    def _live(self, change: dict) -> None:
        self.live_changed.emit(change)

    @pyqtSlot(int)
    def _on_clip_mode(self, _index: int) -> None:
        self._sync_enabled()
        self._live({"clip_mode": self.clip_mode.currentData()})

    @pyqtSlot()
    def _on_probe(self) -> None:
        text = self.probe_text.text()
        if len(text) >= 2:
            self.probe_requested.emit(text)

    def _on_demo(self, sigma2: float) -> None:
        self.apply_demo(sigma2)
        self.demo_requested.emit(float(sigma2))

    @pyqtSlot()
    def _choose_file(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Training text", str(Path.cwd()))
        if path:
            self.set_corpus(path)

    @pyqtSlot()
    def _choose_dir(self) -> None:
        path = QFileDialog.getExistingDirectory(self, "Folder of text", str(Path.cwd()))
        if path:
            self.set_corpus(path)

    @pyqtSlot()
    def _choose_checkpoint(self) -> None:
        path, _ = QFileDialog.getOpenFileName(
            self, "Start from weights", str(Path.cwd()), "Checkpoints (*.st);;All (*)"
        )
        if path:
            self.set_start_checkpoint(path)
