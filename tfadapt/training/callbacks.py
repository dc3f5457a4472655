"""Callbacks that tfadapt adds to `fit`: freezing and gradual unfreezing, pad tokens, progress.

Early stopping is Keras' own `EarlyStopping`; the trainer loads the best epoch's
checkpoint (Keras' `ModelCheckpoint`) after `fit`.
"""

import re
import time

import keras

from tfadapt.training.lr_rules import EMBEDDINGS


class LayerFreezer(keras.callbacks.Callback):
    """Freezes what the rule table gives multiplier 0; unfreezes gradually by a schedule.

    Freezing is per variable (`variable.trainable`), so it composes with what the model
    froze itself (LoRA's base kernels, the unused [CLS] pooler): those stay frozen, and
    only variables this callback froze are ever unfrozen.

    Gradual unfreezing (ULMFiT): at stage 0 the encoder layers and embeddings are
    frozen and the head trains; every `unfreeze_every` epochs (or steps) one more
    encoder layer from the top joins; after the lowest layer the embeddings do. When the
    trainable set changes, the train function is traced again; the optimizer was built
    over every variable that will ever train, so layers already training keep their
    optimizer state (moments, step count). This works under any tf.distribute strategy
    (the new train function is made by Keras in the model's strategy).

    Args:
        model: the model being fit.
        table: a `RuleTable`; variables with multiplier 0 stay frozen throughout.
        num_layers: encoder layers of the backbone.
        unfreeze_every: stage length for gradual unfreezing (0: off).
        unfreeze_unit: "epoch" or "step".
        log: where "unfroze …" lines go.
    """

    def __init__(self, model, table, num_layers, unfreeze_every=0, unfreeze_unit="epoch",
                 log=print):
        super().__init__()
        self.table = table
        self.num_layers = num_layers
        self.unfreeze_every = unfreeze_every
        self.unfreeze_unit = unfreeze_unit
        self.log = log
        self.controlled = list(model.trainable_variables)  # before anything is frozen here
        self.stage = None

    def ever_trained(self):
        """The variables that train at some stage (the optimizer is built over these)."""
        return [v for v in self.controlled if self.table.multiplier(v.path) > 0]

    def _held_back(self, path, stage):
        """Whether gradual unfreezing still holds `path` frozen at `stage`."""
        if not self.unfreeze_every:
            return False
        if re.search(EMBEDDINGS, path):
            return stage <= self.num_layers
        layer = re.match(r"transformer_layer_(\d+)/", path)
        return layer is not None and int(layer[1]) < self.num_layers - stage

    def apply(self, stage=0):
        """Sets trainability for `stage`; returns True when it changed anything."""
        changed = False
        for variable in self.controlled:
            trainable = (self.table.multiplier(variable.path) > 0
                         and not self._held_back(variable.path, stage))
            if variable.trainable != trainable:
                variable.trainable = trainable
                changed = True
        self.stage = stage
        return changed

    def _enter(self, stage):
        if stage == self.stage:
            return
        before = {v.path for v in self.controlled if v.trainable}
        if self.apply(stage):
            joined = sorted({p.split("/")[0] for p in
                             {v.path for v in self.controlled if v.trainable} - before})
            self.log(f"tfadapt: unfreezing stage {stage}: {', '.join(joined)} now train")
            self.model.make_train_function(force=True)

    def on_train_begin(self, logs=None):
        self.apply(self.stage or 0)

    def on_epoch_begin(self, epoch, logs=None):
        if self.unfreeze_every and self.unfreeze_unit == "epoch":
            self._enter(epoch // self.unfreeze_every)

    def on_epoch_end(self, epoch, logs=None):
        self._epochs_done = epoch + 1

    def on_train_batch_begin(self, batch, logs=None):
        if self.unfreeze_every and self.unfreeze_unit == "step":
            # Counted on the host: reading the optimizer's step would sync every batch.
            step = getattr(self, "_epochs_done", 0) * (self.params or {}).get("steps", 0) + batch
            self._enter(step // self.unfreeze_every)


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


class ValidationMetricLogger(keras.callbacks.Callback):
    """Adds `name` = `compute(model)` to each epoch's logs, for metrics that need the
    whole validation set at once (entity F1 decodes whole sentences). Put it before
    early stopping and the checkpoint, which read the logs after it.
    """

    def __init__(self, name, compute):
        super().__init__()
        self.name = name
        self.compute = compute

    def on_epoch_end(self, epoch, logs=None):
        if logs is not None:
            logs[self.name] = float(self.compute(self.model))


class HeadWarmup(keras.callbacks.Callback):
    """Trains only the new head for the first `steps` steps, then the whole model.

    A head that starts untrained (a masked-LM head on a checkpoint that ships none)
    sends large, noisy gradients into the pretrained layers below it in its first steps;
    holding those layers still until the head has learned something protects what they
    know (as ULMFiT and "linear probe, then fine-tune" do). The optimizer must be built
    over every variable before `fit`, so the held variables find their state ready.

    Args:
        held: the variables to hold still during the warm-up (the backbone's).
        steps: warm-up steps (0: none).
        log: where the "unfrozen" line goes.
    """

    def __init__(self, held, steps, log=print):
        super().__init__()
        self.held = [v for v in held if v.trainable]
        self.steps = steps
        self.log = log
        self.warm = steps == 0
        self._epochs_done = 0

    def on_train_begin(self, logs=None):
        if not self.warm:
            for variable in self.held:
                variable.trainable = False

    def on_epoch_end(self, epoch, logs=None):
        self._epochs_done = epoch + 1

    def on_train_batch_begin(self, batch, logs=None):
        # Counted on the host: reading the optimizer's step would sync every batch.
        step = self._epochs_done * (self.params or {}).get("steps", 0) + batch
        if not self.warm and step >= self.steps:
            for variable in self.held:
                variable.trainable = True
            self.warm = True
            self.model.make_train_function(force=True)
            self.log(f"tfadapt: head warm-up done after {step} steps; the backbone trains too")
