"""A text classifier: a BERT backbone, a pooled sentence vector, and a dense head."""

import keras


def build_classifier(backbone, num_classes, dropout=0.1, pooling="mean"):
    """A functional Keras model from token-id features to class logits.

    It takes the backbone's integer inputs (`token_ids`, `segment_ids`, `padding_mask`)
    and returns float32 logits, also under a mixed-precision policy.

    Args:
        backbone: a `keras_hub.models.BertBackbone`.
        num_classes: the number of classes.
        dropout: dropout rate before the head.
        pooling: "mean" (the mean of the token vectors under the padding mask, how
            sentence-transformers checkpoints such as all-MiniLM-L6-v2 were trained)
            or "cls" (BERT's pooled [CLS] output).

    Example:
    >>> backbone = keras_hub.models.BertBackbone(vocabulary_size=100, num_layers=2,
    ...     num_heads=2, hidden_dim=8, intermediate_dim=16)
    >>> model = build_classifier(backbone, num_classes=3)
    """
    inputs = {name: keras.Input(shape=(None,), dtype="int32", name=name)
              for name in ("token_ids", "segment_ids", "padding_mask")}
    outputs = backbone(inputs)
    if pooling == "cls":
        pooled = outputs["pooled_output"]
    else:
        # The [CLS] pooler gets no gradient under mean pooling; freezing it says so
        # (and keeps Keras from warning about missing gradients every run).
        backbone.get_layer("pooled_dense").trainable = False
        mask = keras.ops.cast(inputs["padding_mask"], "bool")
        pooled = keras.layers.GlobalAveragePooling1D(name="mean_pooling")(
            outputs["sequence_output"], mask=mask)
    x = keras.layers.Dropout(dropout, name="head_dropout")(pooled)
    logits = keras.layers.Dense(
        num_classes,
        kernel_initializer=keras.initializers.TruncatedNormal(stddev=0.02),
        dtype="float32",
        name="logits",
    )(x)
    return keras.Model(inputs, logits, name="text_classifier")
