"""Pick the tf.distribute strategy, and the compile settings that suit its devices."""

import dataclasses
import os

import tensorflow as tf

from tfadapt.errors import UserError, first_line


@dataclasses.dataclass(frozen=True)
class Placement:
    """Where a run executes and how to compile for it."""

    strategy: tf.distribute.Strategy
    device: str  # "tpu", "gpu" or "cpu"
    jit_compile: bool
    dtype_policy: str  # a Keras dtype policy name

    @property
    def replicas(self):
        return self.strategy.num_replicas_in_sync


# One strategy object per kind and process. Two MirroredStrategy objects in one process
# number their collective ops from the same keys, so a second run whose gradients have
# other shapes (another fine-tuning strategy in `tfadapt.compare`) fails with "Shape
# mismatch in the collective instance 100"; a TPU system should be initialised once.
_STRATEGIES = {}


def resolve_strategy(name="auto", tpu=None):
    """The strategy for `--strategy` (auto, cpu, gpu, multi_gpu, tpu), and its device kind.

    auto: a TPU if one is named or advertised by the environment (Colab's
    `COLAB_TPU_ADDR`, Cloud's `TPU_NAME`), else MirroredStrategy over several GPUs, else
    one GPU, else the CPU. Resolved strategies are reused within the process.
    """
    gpus = tf.config.list_logical_devices("GPU")
    if name == "auto":
        if tpu or os.environ.get("COLAB_TPU_ADDR") or os.environ.get("TPU_NAME"):
            name = "tpu"
        else:
            name = "multi_gpu" if len(gpus) > 1 else "gpu" if gpus else "cpu"
    key = (name, tpu or os.environ.get("TPU_NAME") or os.environ.get("COLAB_TPU_ADDR"))
    if key not in _STRATEGIES:
        _STRATEGIES[key] = _new_strategy(name, tpu, gpus)
    return _STRATEGIES[key]


def _new_strategy(name, tpu, gpus):
    if name == "tpu":
        return _tpu_strategy(tpu), "tpu"
    if name == "multi_gpu":
        if len(gpus) < 2:
            raise UserError(f"--strategy=multi_gpu needs at least two GPUs; found {len(gpus)}")
        return tf.distribute.MirroredStrategy([g.name for g in gpus]), "gpu"
    if name == "gpu":
        if not gpus:
            raise UserError("--strategy=gpu: TensorFlow sees no GPU; use --strategy=cpu or auto")
        return tf.distribute.OneDeviceStrategy(gpus[0].name), "gpu"
    return tf.distribute.get_strategy(), "cpu"


def _tpu_strategy(tpu):
    address = tpu or os.environ.get("TPU_NAME") or os.environ.get("COLAB_TPU_ADDR")
    if address and ":" in address and not address.startswith("grpc://"):
        address = "grpc://" + address  # Colab's COLAB_TPU_ADDR is host:port.
    try:
        resolver = tf.distribute.cluster_resolver.TPUClusterResolver(tpu=address or "")
        tf.config.experimental_connect_to_cluster(resolver)
        tf.tpu.experimental.initialize_tpu_system(resolver)
    except (ValueError, tf.errors.OpError, RuntimeError) as e:
        raise UserError(f"--strategy=tpu: no TPU reachable at --tpu={tpu or ''!r} ({first_line(e)}); "
                        "on a TPU VM pass --tpu=local, else the TPU's name or grpc address") from None
    return tf.distribute.TPUStrategy(resolver)


def resolve_placement(strategy="auto", tpu=None, jit_compile="auto", mixed_precision="auto",
                      strategy_object=None):
    """The strategy plus the jit and dtype choices that fit its devices.

    jit_compile=auto: on for TPU (always compiled) and a single GPU; off on CPU, where
    XLA measured slower for a 22 M-parameter BERT (3.9 vs 5.5 examples/s) and costs
    ~40 s of compile, and under MirroredStrategy over CPUs, where it fails.
    mixed_precision=auto: bf16 on TPU, fp16 on GPU, off on CPU.

    `strategy_object` bypasses resolution (tests pass a MirroredStrategy over logical CPUs).
    """
    if strategy_object is not None:
        devices = strategy_object.extended.worker_devices
        device = "gpu" if any("GPU" in d.upper() for d in devices) else "cpu"
        resolved = strategy_object
    else:
        resolved, device = resolve_strategy(strategy, tpu)
    replicas = resolved.num_replicas_in_sync
    if jit_compile == "auto":
        jit = device == "tpu" or (device == "gpu" and replicas == 1)
    else:
        jit = jit_compile == "true"
    policy = {"off": "float32", "bf16": "mixed_bfloat16", "fp16": "mixed_float16",
              "auto": {"tpu": "mixed_bfloat16", "gpu": "mixed_float16"}.get(device, "float32")}
    return Placement(resolved, device, jit, policy[mixed_precision])


def place_run(config, strategy_object=None, log=print):
    """The `Placement` of a run's config (its strategy, tpu, jit_compile, mixed_precision),
    logged; checks that `config.batch_size` splits over the replicas, and seeds Keras."""
    import keras

    placement = resolve_placement(config.strategy, config.tpu, config.jit_compile,
                                  config.mixed_precision, strategy_object=strategy_object)
    log(f"tfadapt: {placement.device} × {placement.replicas} replica(s), "
        f"jit_compile={placement.jit_compile}, dtype policy {placement.dtype_policy}")
    if config.batch_size % placement.replicas:
        raise UserError(f"--batch_size={config.batch_size} does not split evenly over "
                        f"{placement.replicas} replicas")
    keras.utils.set_random_seed(config.seed)
    return placement
