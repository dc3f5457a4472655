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
    pooled = None
    if pooling == "cls":
        pooled = outputs["pooled_output"]
    else:
        # The [CLS] pooler gets no gradient under mean pooling; freezing it says so
        # (and keeps Keras from warning about missing gradients every run).
        backbone.get_layer("pooled_dense").trainable = False
    logits = classifier_head(outputs["sequence_output"], inputs["padding_mask"], num_classes,
                             dropout, pooled)
    return keras.Model(inputs, logits, name="text_classifier")


def classifier_head(sequence_output, padding_mask, num_classes, dropout=0.1, pooled=None):
    """Float32 logits from `pooled` or, when None, the masked mean of `sequence_output`."""
    if pooled is None:
        mask = keras.ops.cast(padding_mask, "bool")
        pooled = keras.layers.GlobalAveragePooling1D(name="mean_pooling")(sequence_output, mask=mask)
    x = keras.layers.Dropout(dropout, name="head_dropout")(pooled)
    return keras.layers.Dense(
        num_classes,
        kernel_initializer=keras.initializers.TruncatedNormal(stddev=0.02),
        dtype="float32",
        name="logits",
    )(x)
