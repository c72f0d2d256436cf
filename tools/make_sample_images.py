#!/usr/bin/python3
"""Writes models/images/: one Fashion-MNIST test image per class as a 28x28 8-bit grayscale
PNG (raw pixels, the first test image of each class), named <test index>_<class>.png, and
labels.txt with lines "<filename> <label index>".

    /usr/bin/python3 tools/make_sample_images.py [--out models/images]

The PNG writer is zlib+struct only, so the files are byte-identical wherever they are made.
"""
import argparse
import gzip
import os
import struct
import sys
import zlib

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DATA_DIR = "/usr/share/datasets/fashion-mnist"
SLUGS = ["tshirt_top", "trouser", "pullover", "dress", "coat", "sandal", "shirt", "sneaker", "bag", "ankle_boot"]


def read_idx(path):
    with gzip.open(path, "rb") as f:
        data = f.read()
    ndim = data[3]
    dims = struct.unpack(">" + "I" * ndim, data[4:4 + 4 * ndim])
    return dims, data[4 + 4 * ndim:]


def png_gray8(width, height, pixels):
    def chunk(kind, payload):
        return (struct.pack(">I", len(payload)) + kind + payload
                + struct.pack(">I", zlib.crc32(kind + payload) & 0xFFFFFFFF))
    raw = b"".join(b"\x00" + pixels[y * width:(y + 1) * width] for y in range(height))  # filter 0 per row
    return (b"\x89PNG\r\n\x1a\n"
            + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(raw, 9))
            + chunk(b"IEND", b""))


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", default=os.path.join(ROOT, "models", "images"))
    args = ap.parse_args()
    (n, h, w), pixels = read_idx(os.path.join(DATA_DIR, "t10k-images-idx3-ubyte.gz"))
    _, labels = read_idx(os.path.join(DATA_DIR, "t10k-labels-idx1-ubyte.gz"))
    first = {}
    for i in range(n):
        first.setdefault(labels[i], i)
        if len(first) == len(SLUGS):
            break
    os.makedirs(args.out, exist_ok=True)
    lines = []
    for label in range(len(SLUGS)):
        idx = first[label]
        name = f"{idx:04d}_{SLUGS[label]}.png"
        with open(os.path.join(args.out, name), "wb") as f:
            f.write(png_gray8(w, h, pixels[idx * h * w:(idx + 1) * h * w]))
        lines.append(f"{name} {label}")
    lines.sort()
    with open(os.path.join(args.out, "labels.txt"), "w") as f:
        f.write("\n".join(lines) + "\n")
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    sys.exit(main())
