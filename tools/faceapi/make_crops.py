#!/usr/bin/env python3
"""Cut the 112x112 RGB face crops used as face-api reference fixtures.

Boxes were chosen by hand (square, some margin around brows-to-chin, roughly what a
face detector box looks like).  Each box is (left, top, size) in source-image pixels;
the square region [left, left+size) x [top, top+size) is cropped and resized to
112x112 with Pillow's LANCZOS filter, then saved as 8-bit RGB PNG (no alpha).

Usage:  python3 tools/faceapi/make_crops.py [--media DIR] [--out DIR]
"""
import argparse
import os

from PIL import Image

MEDIA = "/work/shared/assets/media"
OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "tests", "fixtures", "faceapi")

# name -> (source path relative to media dir, left, top, size)
CROPS = [
    ("hao_happy.png", "0-f15-hao-ph.jpg", 75, 135, 360),
    ("su_surprise.png", "0-f1-su-ph.jpg", 82, 120, 360),
    ("astronaut.png", "astronaut.png", 155, 45, 140),
    ("single_face_000005.png", "frames/single_face/000005.jpg", 183, 100, 210),
    ("single_face_000060.png", "frames/single_face/000060.jpg", 185, 95, 210),
    ("wolfgang_000336.png", "frames/wolfgang/000336.jpg", 318, 80, 280),
]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--media", default=MEDIA)
    ap.add_argument("--out", default=OUT)
    a = ap.parse_args()
    os.makedirs(a.out, exist_ok=True)
    for name, src, left, top, size in CROPS:
        im = Image.open(os.path.join(a.media, src)).convert("RGB")
        w, h = im.size
        assert left >= 0 and top >= 0 and left + size <= w and top + size <= h, (name, im.size)
        crop = im.crop((left, top, left + size, top + size)).resize((112, 112), Image.LANCZOS)
        path = os.path.join(a.out, name)
        crop.save(path, format="PNG", optimize=False)
        print(f"{name}: {src} box=({left},{top},{size}) -> {os.path.normpath(path)}")


if __name__ == "__main__":
    main()
