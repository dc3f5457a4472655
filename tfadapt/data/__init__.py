"""Data: read labeled text (files or TFDS), map labels, and build tf.data pipelines."""
