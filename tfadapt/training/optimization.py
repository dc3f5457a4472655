"""The optimizer and the learning-rate schedule."""

import keras

from tfadapt.errors import UserError

# Standard BERT practice: no weight decay on LayerNorm scales/offsets and on biases.
# Keras matches these against each variable's short name.
NO_DECAY = ("gamma", "beta", "bias")


@keras.saving.register_keras_serializable(package="tfadapt")
class WarmupLinearDecay(keras.optimizers.schedules.LearningRateSchedule):
    """Linear warmup from 0 to `peak`, then linear decay to 0 (or a constant rate).

    Keras ships warmup only as part of `CosineDecay`; BERT fine-tuning uses a linear
    ramp down, so this is written here.

    Args:
        peak: the learning rate at the end of warmup.
        warmup_steps: steps of linear warmup.
        total_steps: all training steps; the rate reaches 0 here when decaying.
        decay: "linear" or "constant".
    """

    def __init__(self, peak, warmup_steps, total_steps, decay="linear"):
        self.peak = peak
        self.warmup_steps = warmup_steps
        self.total_steps = total_steps
        self.decay = decay

    def __call__(self, step):
        step = keras.ops.cast(step, "float32")
        if self.decay == "constant":
            after = keras.ops.convert_to_tensor(self.peak, "float32")
        else:
            span = float(max(self.total_steps - self.warmup_steps, 1))
            after = self.peak * keras.ops.maximum(0.0, 1.0 - (step - self.warmup_steps) / span)
        if self.warmup_steps == 0:
            return after
        ramp_up = self.peak * step / float(self.warmup_steps)
        return keras.ops.where(step < self.warmup_steps, ramp_up, after)

    def get_config(self):
        return {"peak": self.peak, "warmup_steps": self.warmup_steps,
                "total_steps": self.total_steps, "decay": self.decay}


def build_optimizer(name, learning_rate, total_steps, warmup_ratio=0.1, decay="linear",
                    weight_decay=0.01, clip_norm=1.0):
    """AdamW / Adam / SGD on a warmup-then-decay schedule, with global-norm clipping.

    Weight decay is decoupled (Keras applies it apart from the gradient step) and skips
    LayerNorm parameters and biases.
    """
    schedule = WarmupLinearDecay(learning_rate, int(round(total_steps * warmup_ratio)),
                                 total_steps, decay)
    clip = {"global_clipnorm": clip_norm} if clip_norm > 0 else {}
    if name == "adamw":
        optimizer = keras.optimizers.AdamW(schedule, weight_decay=weight_decay, epsilon=1e-6, **clip)
    elif name == "adam":  # Plain Adam: no weight decay, whatever --weight_decay says.
        weight_decay = 0.0
        optimizer = keras.optimizers.Adam(schedule, epsilon=1e-6, **clip)
    elif name == "sgd":
        optimizer = keras.optimizers.SGD(schedule, momentum=0.9,
                                         weight_decay=weight_decay or None, **clip)
    else:
        raise UserError(f"--optimizer={name}: choose adamw, adam or sgd")
    if weight_decay:
        optimizer.exclude_from_weight_decay(var_names=list(NO_DECAY))
    return optimizer
