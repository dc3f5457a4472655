"""Callbacks that tfadapt adds to `fit`: layer freezing, pad-token accounting, progress.

Early stopping is Keras' own `EarlyStopping`; the trainer loads the best epoch's
checkpoint (Keras' `ModelCheckpoint`) after `fit`.
"""

import time

import keras


class LayerFreezer(keras.callbacks.Callback):
    """Freezes the embeddings and/or the lowest encoder layers of a BERT backbone.

    Trainability is set when training begins, before the train step is traced, so the
    frozen layers get no gradients, no optimizer updates and no weight decay.

    Args:
        backbone: the `BertBackbone` inside the model being fit.
        freeze_embeddings: freeze token, position and segment embeddings and their
            LayerNorm.
        freeze_layers: freeze the lowest N transformer layers.
    """

    EMBEDDING_LAYERS = ("token_embedding", "position_embedding", "segment_embedding",
                        "embeddings_layer_norm")

    def __init__(self, backbone, freeze_embeddings=False, freeze_layers=0):
        super().__init__()
        self.backbone = backbone
        self.freeze_embeddings = freeze_embeddings
        self.freeze_layers = freeze_layers

    def frozen_layer_names(self):
        names = list(self.EMBEDDING_LAYERS) if self.freeze_embeddings else []
        return names + [f"transformer_layer_{i}" for i in range(self.freeze_layers)]

    def apply(self):
        """Sets trainability on the backbone; returns the frozen layer names."""
        names = self.frozen_layer_names()
        for name in names:
            self.backbone.get_layer(name).trainable = False
        return names

    def on_train_begin(self, logs=None):
        self.apply()


class PadFractionLogger(keras.callbacks.Callback):
    """Adds `pad_fraction` (share of pad tokens in the epoch's batches) to the epoch logs.

    Put it before CSVLogger / TensorBoard in the callback list so they record it.
    """

    def __init__(self, pad_meter):
        super().__init__()
        self.pad_meter = pad_meter

    def on_epoch_begin(self, epoch, logs=None):
        self.pad_meter.reset()

    def on_epoch_end(self, epoch, logs=None):
        if logs is not None:
            logs["pad_fraction"] = self.pad_meter.fraction()


class ProgressLogger(keras.callbacks.Callback):
    """Prints a progress line about every tenth of an epoch, and one per epoch.

    Plain lines rather than Keras' progress bar, which shows nothing mid-epoch when the
    output is not a terminal (CI logs, `| tee`, Colab cells of background jobs).

    Args:
        steps_per_epoch: steps in one epoch.
        batch_size: the global batch size, for examples/s.
        epochs: the number of epochs, for the "epoch i/N" prefix.
    """

    def __init__(self, steps_per_epoch, batch_size, epochs, log=print):
        super().__init__()
        self.steps_per_epoch = steps_per_epoch
        self.batch_size = batch_size
        self.epochs = epochs
        self.log = log
        self.every = max(1, steps_per_epoch // 10)
        self.train_seconds = []  # per epoch: the training steps only, no validation

    def examples_per_second(self):
        """Training throughput over the epochs after the first (which includes tracing)."""
        seconds = self.train_seconds[1:] or self.train_seconds
        return len(seconds) * self.steps_per_epoch * self.batch_size / max(sum(seconds), 1e-9)

    def on_epoch_begin(self, epoch, logs=None):
        self.epoch = epoch
        self.started = time.time()

    def on_train_batch_end(self, batch, logs=None):
        step = batch + 1
        if step % self.every and step != self.steps_per_epoch:
            return
        elapsed = time.time() - self.started
        if step == self.steps_per_epoch:
            self.train_seconds.append(elapsed)
        rate = step * self.batch_size / max(elapsed, 1e-9)
        eta = (self.steps_per_epoch - step) * elapsed / step
        loss = (logs or {}).get("loss")
        self.log(f"  epoch {self.epoch + 1}/{self.epochs}  step {step}/{self.steps_per_epoch}"
                 + (f"  loss {float(loss):.4f}" if loss is not None else "")
                 + f"  {rate:.1f} examples/s  ETA {eta:.0f} s")

    def on_epoch_end(self, epoch, logs=None):
        shown = {k: v for k, v in (logs or {}).items() if k != "learning_rate"}
        self.log(f"epoch {epoch + 1}/{self.epochs} done in {time.time() - self.started:.0f} s: "
                 + "  ".join(f"{k} {float(v):.4f}" for k, v in shown.items()))
