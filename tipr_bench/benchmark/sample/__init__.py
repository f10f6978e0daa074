"""The bundled synthetic TIPR sample: drawn pedestrians with attribute-faithful English captions.

`generate_sample(out, persons, seed)` writes a CUHK-PEDES-layout dataset (reid_raw.json + imgs/)
plus attributes.json, the ground truth each image and caption was made from.
"""

from .generate import SampleSummary, generate_sample

__all__ = ["SampleSummary", "generate_sample"]
