"""tfadapt: adapt pretrained BERT-family models to a domain with TensorFlow and KerasHub.

The package is laid out along the flow of a run:

    data → models → training → evaluation → serving

with one module per task in `tfadapt.tasks`, and thin entry modules (`tfadapt.train`,
`tfadapt.evaluate`, `tfadapt.export`, `tfadapt.compare`, `tfadapt.pretrain`,
`tfadapt.adapt`, `tfadapt.assets`) that parse flags into a config and call into those
folders.
Importing `tfadapt` does not import TensorFlow.
"""

from tfadapt.errors import UserError

__version__ = "0.1.0"
__all__ = ["UserError", "__version__"]
