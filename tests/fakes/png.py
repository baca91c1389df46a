"""Real PNG bytes without an imaging library: the fakes serve them as AKOOL results and uploads."""

from __future__ import annotations

import random
import struct
import zlib


def _chunk(kind: bytes, data: bytes) -> bytes:
    body = kind + data
    return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body) & 0xFFFFFFFF)


def make_png(width: int, height: int, seed: str, *, noise: bool = False) -> bytes:
    """An RGB PNG whose colour (or, with ``noise``, incompressible pixels) derives from ``seed``.

    Noise makes a file whose size is close to ``width * height * 3`` bytes, for upload-limit tests.
    """
    rng = random.Random(seed)
    if noise:
        rows = b"".join(b"\x00" + rng.randbytes(width * 3) for _ in range(height))
    else:
        pixel = bytes(rng.randrange(256) for _ in range(3))
        rows = (b"\x00" + pixel * width) * height
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + _chunk(b"IHDR", header)
        + _chunk(b"IDAT", zlib.compress(rows, 6))
        + _chunk(b"IEND", b"")
    )
