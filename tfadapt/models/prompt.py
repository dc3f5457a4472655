"""Prompt tuning (Lester et al., 2021): trainable soft-prompt vectors before the tokens.

keras-hub's `BertBackbone` is a functional model that starts from token ids, so there is
no place to insert vectors between its embeddings and its encoder. `SoftPromptEncoder`
runs the backbone's own layers in the backbone's order and puts N learned vectors in
front of the embedded tokens:

    [p_1 … p_N, emb([CLS]), emb(t_1), …, emb([SEP]), pad…]  →  transformer layers

- Positions: the real tokens keep positions 0…L-1, exactly as without a prompt, so the
  pretrained position embeddings mean what they meant in pretraining. The prompt
  vectors carry no position embedding: they live after the embedding LayerNorm, in the
  space the encoder reads, and are free to learn whatever they need.
- Padding: the prompt is always attended to; pad tokens never are (the padding mask is
  extended by N ones), so a text's output does not depend on how its batch is padded.
- The encoder returns the backbone's two outputs for the real tokens only
  (`sequence_output`, and `pooled_output` from the backbone's own [CLS] pooler), so
  pooling and the head are the same as in `build_classifier`.
"""

import keras
import numpy as np



@keras.saving.register_keras_serializable(package="tfadapt")
class SoftPromptEncoder(keras.layers.Layer):
    """A BERT backbone with `prompt_length` trainable vectors prepended to its input.

    Args:
        backbone: a `keras_hub.models.BertBackbone` (frozen by the caller for prompt
            tuning; its variables are tracked here so the model saves them).
        prompt_length: the number of soft-prompt vectors.
        initial_prompt: optional array [prompt_length, hidden_dim] to start from.

    Example:
    >>> encoder = SoftPromptEncoder(backbone, prompt_length=8)
    >>> outputs = encoder({"token_ids": ids, "segment_ids": seg, "padding_mask": mask})
    >>> outputs["sequence_output"].shape  # [batch, tokens, hidden]: the prompt is not in it
    """

    def __init__(self, backbone, prompt_length, initial_prompt=None, **kwargs):
        super().__init__(**kwargs)
        # === Layers ===
        self.backbone = backbone
        self.prompt_length = prompt_length
        self._initial_prompt = initial_prompt

    def build(self, input_shape=None):
        hidden = self.backbone.hidden_dim
        initial = self._initial_prompt
        self.prompt = self.add_weight(
            name="prompt", shape=(self.prompt_length, hidden),
            initializer=(keras.initializers.Constant(np.asarray(initial, "float32"))
                         if initial is not None
                         else keras.initializers.TruncatedNormal(stddev=0.5)),
            dtype="float32")
        self.built = True

    def call(self, inputs, training=None):
        b = self.backbone
        tokens = b.get_layer("token_embedding")(inputs["token_ids"])
        positions = b.get_layer("position_embedding")(tokens)
        segments = b.get_layer("segment_embedding")(inputs["segment_ids"])
        x = b.get_layer("embeddings_add")((tokens, positions, segments))
        x = b.get_layer("embeddings_layer_norm")(x)
        x = b.get_layer("embeddings_dropout")(x, training=training)
        batch = keras.ops.shape(x)[0]
        prompt = keras.ops.cast(self.prompt, x.dtype)
        prompt = keras.ops.broadcast_to(prompt[None], (batch, self.prompt_length, b.hidden_dim))
        x = keras.ops.concatenate([prompt, x], axis=1)
        mask = keras.ops.cast(inputs["padding_mask"], "int32")
        mask = keras.ops.concatenate(
            [keras.ops.ones((batch, self.prompt_length), "int32"), mask], axis=1)
        for i in range(b.num_layers):
            x = b.get_layer(f"transformer_layer_{i}")(x, padding_mask=mask, training=training)
        x = x[:, self.prompt_length:, :]
        return {"sequence_output": x, "pooled_output": b.get_layer("pooled_dense")(x[:, 0, :])}

    def compute_output_shape(self, input_shape):
        hidden = self.backbone.hidden_dim
        return {"sequence_output": (None, None, hidden), "pooled_output": (None, hidden)}

    # === Config ===
    def get_config(self):
        return {**super().get_config(), "prompt_length": self.prompt_length,
                "backbone": keras.layers.serialize(self.backbone)}

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        config["backbone"] = keras.layers.deserialize(config["backbone"])
        return cls(**config)


def initial_prompt(backbone, tokenizer, prompt_length, words=(), seed=0):
    """Starting vectors: the embedded word pieces of `words` (cycled to the length), or of
    random vocabulary tokens when no words are given (Lester et al.'s sampled-vocabulary
    init), taken through the embedding LayerNorm like real tokens (segment 0, no position).
    """
    if words:
        ids = [int(i) for word in words for i in np.asarray(tokenizer(word)).reshape(-1)]
        ids = [ids[i % len(ids)] for i in range(prompt_length)]
    else:
        special = {tokenizer.cls_token_id, tokenizer.sep_token_id, tokenizer.pad_token_id}
        rng = np.random.default_rng(seed)
        candidates = [i for i in range(1000, backbone.vocabulary_size) if i not in special] \
            or [i for i in range(backbone.vocabulary_size) if i not in special]
        ids = rng.choice(candidates, size=prompt_length).tolist()
    embedded = backbone.get_layer("token_embedding")(np.asarray([ids], "int32"))
    embedded = embedded + backbone.get_layer("segment_embedding")(np.zeros([1, len(ids)], "int32"))
    return np.asarray(backbone.get_layer("embeddings_layer_norm")(embedded))[0]


def build_prompt_classifier(backbone, num_classes, prompt_length, initial=None, dropout=0.1,
                            pooling="mean"):
    """Like `build_classifier`, with a `SoftPromptEncoder` in place of the plain backbone."""
    from tfadapt.models.classifier import build_classifier

    return build_classifier(backbone, num_classes, dropout, pooling,
                            encoder=SoftPromptEncoder(backbone, prompt_length, initial,
                                                      name="soft_prompt"),
                            name="prompt_tuned_classifier")
