"""Palette ("P" mode) PNGs: the mask format the DAVIS and YouTube-VOS evaluations read.

A palette PNG stores one byte per pixel (the object id) plus a colour table, so the official
scripts (`np.array(Image.open(path))` in davis2017-evaluation) read object ids directly.
OpenCV cannot write palette PNGs; Pillow can but is not a runtime dependency, and adding it to
the lean (Jetson) runtime for a 20-line format is heavier than writing the four chunks (IHDR,
PLTE, IDAT, IEND) with `zlib` and `struct`. Reading back uses OpenCV, which expands the palette
to colours; `palette` gives the colour table so a reader can tell object pixels apart.
"""
from __future__ import annotations

import struct
import zlib
from pathlib import Path

import numpy as np

SIGNATURE = b"\x89PNG\r\n\x1a\n"
PALETTE_COLOR_TYPE = 3  # IHDR colour type of an indexed image


def davis_palette() -> bytes:
    """The DAVIS palette (the PASCAL VOC colour map, 256 RGB entries): id 0 black, 1 (128,0,0),
    2 (0,128,0), ...; ids are spread over the bits of the three channels, 3 bits per step."""
    entries = bytearray()
    for index in range(256):
        rgb, value = [0, 0, 0], index
        for shift in range(7, -1, -1):
            for channel in range(3):
                rgb[channel] |= ((value >> channel) & 1) << shift
            value >>= 3
        entries += bytes(rgb)
    return bytes(entries)


def encode(labels: np.ndarray, palette: bytes) -> bytes:
    """An 8-bit indexed PNG of `labels` (HxW object ids 0..255) with `palette` (RGB triples)."""
    labels = np.asarray(labels)
    if labels.ndim != 2 or labels.dtype != np.uint8:
        raise ValueError(f"labels must be a 2-D uint8 array, got {labels.dtype} {labels.shape}")
    height, width = labels.shape
    rows = np.zeros((height, width + 1), np.uint8)  # each row starts with filter type 0 (none)
    rows[:, 1:] = labels
    header = struct.pack(">IIBBBBB", width, height, 8, PALETTE_COLOR_TYPE, 0, 0, 0)
    return (SIGNATURE + _chunk(b"IHDR", header) + _chunk(b"PLTE", palette)
            + _chunk(b"IDAT", zlib.compress(rows.tobytes(), 6)) + _chunk(b"IEND", b""))


def _chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def palette(path: str | Path) -> bytes | None:
    """The colour table of an indexed PNG; None for any other image (grey, RGB, not a PNG)."""
    data = Path(path).read_bytes()
    if not data.startswith(SIGNATURE) or len(data) < 33 or data[25] != PALETTE_COLOR_TYPE:
        return None
    offset = len(SIGNATURE)
    while offset + 8 <= len(data):
        length, kind = struct.unpack(">I4s", data[offset:offset + 8])
        if kind == b"PLTE":
            return data[offset + 8:offset + 8 + length]
        offset += 12 + length
    return None
