"""Generates the small reference files of ImagingTests with Pillow (run once; outputs committed).

    python3 make_test_data.py   # from this folder, with Pillow installed (pip install pillow numpy)

- resize_cases.json + resize_<name>.rgb: Pillow's Image.resize(..., BILINEAR) of a synthetic
  RGB pattern (same formula as `syntheticImage` in the Swift tests), raw interleaved RGB bytes.
- gray.jpg / gray.L: a grayscale JPEG and Pillow's decoded luma bytes.
- color420.jpg / color420.rgb, progressive444.jpg / progressive444.rgb: colour JPEGs and
  Pillow's decoded RGB bytes (chroma upsampling and progressive decoding).
- cmyk.jpg: a CMYK JPEG (must be refused).
"""
import json

import numpy as np
from PIL import Image


def pattern(width, height):
    y, x, c = np.meshgrid(np.arange(height), np.arange(width), np.arange(3), indexing="ij")
    v = (x * 73856093) ^ (y * 19349663) ^ (c * 83492791)
    return Image.fromarray((v & 0xFF).astype(np.uint8), "RGB")


CASES = [
    # name, input size, output size
    ("upscale", (13, 9), (40, 29)),
    ("down_x_up_y", (97, 61), (30, 50)),
    ("downscale", (120, 90), (37, 23)),
    ("vertical_only", (50, 40), (50, 17)),
    ("horizontal_only", (50, 40), (21, 40)),
    # Resize(20) in torchvision terms: shorter side 20, longer int(20 * 31 / 23) = 26.
    ("shorter_side_20", (31, 23), (26, 20)),
]

manifest = []
for name, size_in, size_out in CASES:
    out = pattern(*size_in).resize(size_out, Image.BILINEAR)
    with open(f"resize_{name}.rgb", "wb") as f:
        f.write(out.tobytes())
    manifest.append({"name": name, "input": list(size_in), "output": list(size_out)})
with open("resize_cases.json", "w") as f:
    json.dump(manifest, f, indent=1)

gray = Image.fromarray(np.asarray(pattern(16, 12))[:, :, 0] // 2 + 60, "L")
gray.save("gray.jpg", quality=90)
with open("gray.L", "wb") as f:
    f.write(Image.open("gray.jpg").tobytes())

pattern(17, 11).save("color420.jpg", quality=85, subsampling=2)
with open("color420.rgb", "wb") as f:
    f.write(Image.open("color420.jpg").convert("RGB").tobytes())

pattern(19, 13).save("progressive444.jpg", quality=95, subsampling=0, progressive=True)
with open("progressive444.rgb", "wb") as f:
    f.write(Image.open("progressive444.jpg").convert("RGB").tobytes())

Image.new("CMYK", (8, 8), (10, 200, 30, 40)).save("cmyk.jpg", quality=90)
