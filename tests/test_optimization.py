"""The warmup / decay schedule and weight-decay exclusions."""

import keras
import numpy as np
import pytest

from tfadapt.training.optimization import WarmupLinearDecay, build_optimizer


def test_warmup_then_linear_decay_to_zero():
    schedule = WarmupLinearDecay(1e-3, warmup_steps=10, total_steps=110)
    rates = [float(schedule(step)) for step in (0, 5, 10, 60, 110, 200)]
    np.testing.assert_allclose(rates, [0, 5e-4, 1e-3, 5e-4, 0, 0], atol=1e-9)


def test_constant_after_warmup_and_no_warmup():
    assert float(WarmupLinearDecay(1e-3, 10, 100, "constant")(90)) == pytest.approx(1e-3)
    assert float(WarmupLinearDecay(1e-3, 0, 100)(0)) == pytest.approx(1e-3)


def test_schedule_serializes():
    schedule = WarmupLinearDecay(2e-5, 3, 30, "linear")
    restored = keras.saving.deserialize_keras_object(keras.saving.serialize_keras_object(schedule))
    assert restored.get_config() == schedule.get_config()


def test_adamw_decays_kernels_but_not_biases_or_layer_norm():
    layer_norm = keras.layers.LayerNormalization()
    dense = keras.layers.Dense(4)
    model = keras.Sequential([keras.Input((4,)), dense, layer_norm])
    before = {v.path: np.array(v) for v in model.trainable_variables}
    # A large rate and zero gradients: whatever changes, changed by weight decay alone.
    optimizer = build_optimizer("adamw", 0.5, total_steps=10, warmup_ratio=0.0, weight_decay=0.1)
    optimizer.apply([keras.ops.zeros_like(v) for v in model.trainable_variables],
                    model.trainable_variables)
    changed = {v.path for v in model.trainable_variables
               if not np.allclose(np.array(v), before[v.path])}
    assert changed == {dense.kernel.path}


@pytest.mark.parametrize("name, cls", [("adamw", keras.optimizers.AdamW),
                                       ("adam", keras.optimizers.Adam),
                                       ("sgd", keras.optimizers.SGD)])
def test_optimizer_choice_and_clipping(name, cls):
    optimizer = build_optimizer(name, 1e-4, 100, clip_norm=1.0)
    assert isinstance(optimizer, cls) and optimizer.global_clipnorm == 1.0
    assert build_optimizer(name, 1e-4, 100, clip_norm=0).global_clipnorm is None


def _two_dense():
    inputs = keras.Input((3,))
    outputs = keras.layers.Dense(2, name="top")(keras.layers.Dense(2, name="low")(inputs))
    model = keras.Model(inputs, outputs)  # functional: paths are layer/variable, as in tfadapt
    return model, {v.path: np.array(v) for v in model.trainable_variables}


@pytest.mark.parametrize("name", ["sgd", "adamw"])
def test_lr_multipliers_scale_each_variables_step(name):
    model, before = _two_dense()
    optimizer = build_optimizer(name, 0.1, total_steps=10, warmup_ratio=0.0, weight_decay=0.0,
                                clip_norm=0, lr_multipliers={"low/kernel": 0.25})
    optimizer.apply([keras.ops.ones_like(v) for v in model.trainable_variables],
                    model.trainable_variables)
    step = {v.path: np.abs(np.array(v) - before[v.path]).mean() for v in model.trainable_variables}
    assert step["low/kernel"] == pytest.approx(0.25 * step["top/kernel"], rel=1e-4)
    assert step["low/bias"] == pytest.approx(step["top/kernel"], rel=1e-4)  # not named: ×1


def test_weight_decay_follows_the_multiplier():
    model, before = _two_dense()
    optimizer = build_optimizer("adamw", 0.5, total_steps=10, warmup_ratio=0.0, weight_decay=0.1,
                                lr_multipliers={"low/kernel": 0.5})
    optimizer.apply([keras.ops.zeros_like(v) for v in model.trainable_variables],
                    model.trainable_variables)
    shrink = {v.path: 1 - np.array(v) / before[v.path] for v in model.trainable_variables
              if v.path.endswith("kernel")}
    np.testing.assert_allclose(shrink["top/kernel"], 0.05, rtol=1e-4)  # lr × wd
    np.testing.assert_allclose(shrink["low/kernel"], 0.025, rtol=1e-4)


def test_scaled_optimizer_serializes():
    optimizer = build_optimizer("adamw", 1e-3, 10, lr_multipliers={"a/kernel": 0.5})
    restored = keras.optimizers.deserialize(keras.optimizers.serialize(optimizer))
    assert restored.lr_multipliers == {"a/kernel": 0.5} and type(restored) is type(optimizer)
