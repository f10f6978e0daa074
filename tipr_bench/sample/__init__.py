"""The bundled synthetic TIPR sample: drawn pedestrians with attribute-faithful English captions.

`generate_sample(out, persons, seed)` writes, in CUHK-PEDES layout:

- `reid_raw.json`: [{split, captions: [2 str], file_path: "synth/0001_01.png", processed_tokens, id}],
  written last, so its presence means the sample is complete;
- `imgs/synth/*.png`: 128x384 photos, 2-4 per person, same clothes, different pose/scale/background;
- `attributes.json`: file_path -> {id, split, person (what was drawn and captioned), shot (pose and
  scene), regions (pixel boxes showing only the top, the bottom, each shoe)}: the ground truth that
  tests and users check images and captions against;
- `tipr_sample.json`: the arguments and generator fingerprint; it marks the folder as a sample
  (so it may be resumed or replaced) and lets a killed run resume without redrawing finished images.
"""

from .generate import SampleSummary, generate_sample

__all__ = ["SampleSummary", "generate_sample"]
