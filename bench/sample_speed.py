"""How fast is `tipr-bench sample`? Prints figures; asserts nothing about time.

Generates the same sample twice in one run: once drawing every image in this process (the
reference), once with the default drawing (a process pool when there are enough images and
cores), checks both give identical files, and prints images per second, the ratio, the bytes per
image, and a projection for 10,000 persons. It also times the PNG encoder at the level used
(3) against the library default (6) on the same images.

    .venv/bin/python bench/sample_speed.py                # 200 persons
    .venv/bin/python bench/sample_speed.py --persons 1000
"""

from __future__ import annotations

import argparse
import hashlib
import io
import tempfile
import time
from pathlib import Path

from PIL import Image

from tipr_bench.sample import generate as generate_module
from tipr_bench.sample import generate_sample


def _digest(root: Path) -> str:
    digest = hashlib.sha256()
    for path in sorted(p for p in root.rglob("*") if p.is_file()):
        digest.update(str(path.relative_to(root)).encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()


def _timed(out: Path, persons: int, serial: bool) -> tuple[float, int]:
    saved = generate_module.PARALLEL_FROM
    if serial:
        generate_module.PARALLEL_FROM = 1 << 62
    try:
        start = time.perf_counter()
        summary = generate_sample(out, persons=persons, seed=0, progress=False)
        return time.perf_counter() - start, summary.images
    finally:
        generate_module.PARALLEL_FROM = saved


def _png_levels(images: list[Path]) -> None:
    decoded = [Image.open(p).convert("RGB") for p in images]
    timings = {}
    for level in (3, 6):
        start, size = time.perf_counter(), 0
        for image in decoded:
            buffer = io.BytesIO()
            image.save(buffer, format="PNG", compress_level=level)
            size += len(buffer.getvalue())
        timings[level] = (time.perf_counter() - start, size)
    (t3, s3), (t6, s6) = timings[3], timings[6]
    print(
        f"png encode, {len(decoded)} images: level 3 {t3 * 1000 / len(decoded):.1f} ms/img "
        f"{s3 // len(decoded):,} B; level 6 {t6 * 1000 / len(decoded):.1f} ms/img {s6 // len(decoded):,} B;"
        f" level 6 / level 3 time {t6 / t3:.2f}x, bytes {s6 / s3:.2f}x"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--persons", type=int, default=200)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        serial_dir, default_dir = Path(tmp) / "serial", Path(tmp) / "default"
        t_serial, images = _timed(serial_dir, args.persons, serial=True)
        t_default, _ = _timed(default_dir, args.persons, serial=False)
        same = _digest(serial_dir) == _digest(default_dir)
        pngs = sorted((default_dir / "imgs").rglob("*.png"))
        per_image = sum(p.stat().st_size for p in pngs) / len(pngs)
        print(f"{args.persons} persons, {images} images, workers available: {generate_module._workers()}")
        print(f"in-process (reference): {t_serial:.1f} s, {images / t_serial:.0f} img/s")
        print(
            f"default:                {t_default:.1f} s, {images / t_default:.0f} img/s, "
            f"speed-up {t_serial / t_default:.2f}x, identical files: {same}"
        )
        per_person = t_default / args.persons
        print(
            f"{per_image / 1024:.1f} KiB per image; "
            f"10,000 persons projected: {per_person * 10_000 / 60:.1f} min, "
            f"{per_image * images / args.persons * 10_000 / 2**30:.2f} GiB"
        )
        _png_levels(pngs[:60])


if __name__ == "__main__":
    main()
