"""Task models on a BERT backbone: one vector per text (classifier), or per token (tagger)."""

import keras

INPUT_NAMES = ("token_ids", "segment_ids", "padding_mask")


def build_classifier(backbone, num_classes, dropout=0.1, pooling="mean", encoder=None,
                     name="text_classifier"):
    """A functional Keras model from token-id features to `num_classes` float32 outputs.

    The outputs are class logits (classification, pairs), per-label logits (multi-label)
    or one value (regression): the head is the same dense layer.

    Args:
        backbone: a `keras_hub.models.BertBackbone`.
        num_classes: the number of outputs.
        dropout: dropout rate before the head.
        pooling: "mean" (the mean of the token vectors under the padding mask, how
            sentence-transformers checkpoints such as all-MiniLM-L6-v2 were trained)
            or "cls" (BERT's pooled [CLS] output).
        encoder: what runs the backbone (a `SoftPromptEncoder` for prompt tuning);
            the backbone itself when None.

    Example:
    >>> backbone = keras_hub.models.BertBackbone(vocabulary_size=100, num_layers=2,
    ...     num_heads=2, hidden_dim=8, intermediate_dim=16)
    >>> model = build_classifier(backbone, num_classes=3)
    """
    inputs = {name: keras.Input(shape=(None,), dtype="int32", name=name) for name in INPUT_NAMES}
    outputs = (encoder or backbone)(inputs)
    pooled = None
    if pooling == "cls":
        pooled = outputs["pooled_output"]
    else:
        # The [CLS] pooler gets no gradient under mean pooling; freezing it says so
        # (and keeps Keras from warning about missing gradients every run).
        backbone.get_layer("pooled_dense").trainable = False
    logits = classifier_head(outputs["sequence_output"], inputs["padding_mask"], num_classes,
                             dropout, pooled)
    return keras.Model(inputs, logits, name=name)


def build_tagger(backbone, num_tags, dropout=0.1, encoder=None):
    """A token classifier: float32 tag logits [batch, tokens, num_tags] for every position.

    Example:
    >>> model = build_tagger(backbone, num_tags=5)
    """
    inputs = {name: keras.Input(shape=(None,), dtype="int32", name=name) for name in INPUT_NAMES}
    outputs = (encoder or backbone)(inputs)
    backbone.get_layer("pooled_dense").trainable = False  # no gradient reaches it
    x = keras.layers.Dropout(dropout, name="head_dropout")(outputs["sequence_output"])
    logits = _dense(num_tags, "logits")(x)
    return keras.Model(inputs, logits, name="token_classifier")


def classifier_head(sequence_output, padding_mask, num_classes, dropout=0.1, pooled=None):
    """Float32 logits from `pooled` or, when None, the masked mean of `sequence_output`."""
    if pooled is None:
        mask = keras.ops.cast(padding_mask, "bool")
        pooled = keras.layers.GlobalAveragePooling1D(name="mean_pooling")(sequence_output, mask=mask)
    x = keras.layers.Dropout(dropout, name="head_dropout")(pooled)
    return _dense(num_classes, "logits")(x)


def _dense(units, name):
    return keras.layers.Dense(
        units,
        kernel_initializer=keras.initializers.TruncatedNormal(stddev=0.02),
        dtype="float32",
        name=name,
    )
