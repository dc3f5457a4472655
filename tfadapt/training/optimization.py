"""The optimizer, the learning-rate schedule, and per-variable learning-rate multipliers."""

import keras
import tensorflow as tf

from tfadapt.errors import UserError

# Standard BERT practice: no weight decay on LayerNorm scales/offsets and on biases.
# Keras matches these against each variable's short name.
NO_DECAY = ("gamma", "beta", "bias", "prompt")  # prompt: the soft prompt of prompt tuning


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


class ScaledLearningRates:
    """Mixin for a Keras optimizer: each variable's step uses lr × its own multiplier.

    Keras has one learning rate per optimizer. Layer-wise rates (discriminative
    fine-tuning, layer-wise decay) need one per variable, so this scales the rate that
    `update_step` receives, and the decoupled weight decay with it (as per-group rates
    do in other frameworks). Multipliers are looked up by variable path when the
    optimizer is built; scaling the gradient instead would be undone by Adam's
    normalisation.

    With `per_variable_steps` (gradual unfreezing), Adam's bias correction counts each
    variable's own updates: Keras corrects with the optimizer's global step count, which
    would give a layer that joins late, with fresh moments, steps of up to ~6× its rate
    for its first hundreds of updates.

    Args:
        lr_multipliers: {variable path: multiplier}; variables not named keep 1.
        per_variable_steps: count updates per variable for Adam's bias correction.
    """

    def __init__(self, *args, lr_multipliers=None, per_variable_steps=False, **kwargs):
        super().__init__(*args, **kwargs)
        self.lr_multipliers = dict(lr_multipliers or {})
        self.per_variable_steps = per_variable_steps

    def build(self, variables):
        super().build(variables)
        self._lr_scales = [float(self.lr_multipliers.get(v.path, 1.0)) for v in variables]
        self._own_steps = None
        if self.per_variable_steps and hasattr(self, "beta_2"):
            self._own_steps = [self.add_variable((), initializer="zeros", dtype="float32",
                                                 name=f"{v.path.replace('/', '_')}_steps")
                               for v in variables]

    def _lr_scale(self, variable):
        return self._lr_scales[self._get_variable_index(variable)]

    def update_step(self, gradient, variable, learning_rate):
        scale = self._lr_scale(variable)
        if scale != 1.0:
            learning_rate = learning_rate * scale
        if self._own_steps is not None:
            steps = self._own_steps[self._get_variable_index(variable)]
            own = steps + 1.0
            self.assign(steps, own)
            # Adam's step uses lr·√(1-β₂ᵗ)/(1-β₁ᵗ) with the global t: swap in the own count.
            shared = tf.cast(self.iterations + 1, tf.float32)
            b1, b2 = float(self.beta_1), float(self.beta_2)
            correction = (tf.sqrt(1 - b2 ** own) / (1 - b1 ** own)) * (
                (1 - b1 ** shared) / tf.sqrt(1 - b2 ** shared))
            learning_rate = tf.cast(learning_rate, tf.float32) * correction
        return super().update_step(gradient, variable, learning_rate)

    def _apply_weight_decay(self, variables):
        # Keras' TensorFlow optimizer decays every variable by lr × wd in a cross-replica
        # update; this is that code with each variable's own multiplier.
        if self.weight_decay is None:
            return

        def decay(variable, scale):
            if self._use_weight_decay(variable):
                lr = tf.cast(self.learning_rate, variable.dtype) * scale
                variable.assign_sub(variable * tf.cast(self.weight_decay, variable.dtype) * lr)

        def distributed(distribution, variables):
            for variable in variables:
                scale = self._lr_scale(variable)
                if isinstance(variable, keras.Variable):
                    variable = variable.value
                distribution.extended.update(variable, decay, args=(scale,), group=False)

        tf.__internal__.distribute.interim.maybe_merge_call(
            distributed, self._distribution_strategy, variables)

    def get_config(self):
        return {**super().get_config(), "lr_multipliers": self.lr_multipliers,
                "per_variable_steps": self.per_variable_steps}


@keras.saving.register_keras_serializable(package="tfadapt")
class ScaledAdamW(ScaledLearningRates, keras.optimizers.AdamW):
    pass


@keras.saving.register_keras_serializable(package="tfadapt")
class ScaledAdam(ScaledLearningRates, keras.optimizers.Adam):
    pass


@keras.saving.register_keras_serializable(package="tfadapt")
class ScaledSGD(ScaledLearningRates, keras.optimizers.SGD):
    pass


def build_optimizer(name, learning_rate, total_steps, warmup_ratio=0.1, decay="linear",
                    weight_decay=0.01, clip_norm=1.0, lr_multipliers=None,
                    per_variable_steps=False):
    """AdamW / Adam / SGD on a warmup-then-decay schedule, with global-norm clipping.

    Weight decay is decoupled (Keras applies it apart from the gradient step) and skips
    LayerNorm parameters, biases and the soft prompt. `lr_multipliers` ({variable path:
    multiplier}) scales the rate of single variables; `per_variable_steps` keeps Adam's
    bias correction right for variables that start training late (see
    `ScaledLearningRates`).
    """
    schedule = WarmupLinearDecay(learning_rate, int(round(total_steps * warmup_ratio)),
                                 total_steps, decay)
    common = {"lr_multipliers": lr_multipliers, "per_variable_steps": per_variable_steps}
    if clip_norm > 0:
        common["global_clipnorm"] = clip_norm
    if name == "adamw":
        optimizer = ScaledAdamW(schedule, weight_decay=weight_decay, epsilon=1e-6, **common)
    elif name == "adam":  # Plain Adam: no weight decay, whatever --weight_decay says.
        weight_decay = 0.0
        optimizer = ScaledAdam(schedule, epsilon=1e-6, **common)
    elif name == "sgd":
        optimizer = ScaledSGD(schedule, momentum=0.9, weight_decay=weight_decay or None, **common)
    else:
        raise UserError(f"--optimizer={name}: choose adamw, adam or sgd")
    if weight_decay:
        optimizer.exclude_from_weight_decay(var_names=list(NO_DECAY))
    return optimizer
