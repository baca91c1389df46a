"""Real PNG bytes without an imaging library: the fakes serve them as AKOOL results and uploads."""

from __future__ import annotations

import functools
import random
import struct
import zlib

SIGNATURE = b"\x89PNG\r\n\x1a\n"
# Chunk length, type and CRC around each chunk's data.
_CHUNK_OVERHEAD = 12
# A private, ancillary chunk type (lower-case first and second letters): decoders skip it.
_PADDING = b"paDd"


def _chunk(kind: bytes, data: bytes) -> bytes:
    body = kind + data
    return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body) & 0xFFFFFFFF)


def _assemble(header: bytes, idat: bytes, pad_to: int | None) -> bytes:
    head = SIGNATURE + _chunk(b"IHDR", header)
    tail = _chunk(b"IDAT", idat) + _chunk(b"IEND", b"")
    if pad_to is None:
        return head + tail
    room = pad_to - len(head) - len(tail) - _CHUNK_OVERHEAD
    if room < 0:
        raise ValueError(f"a PNG of these pixels takes more than {pad_to} bytes")
    return head + _chunk(_PADDING, bytes(room)) + tail


def make_png(
    width: int, height: int, seed: str, *, noise: bool = False, pad_to: int | None = None
) -> bytes:
    """An RGB PNG whose colour (or, with ``noise``, incompressible pixels) derives from ``seed``.

    Noise makes a file whose size is close to ``width * height * 3`` bytes; ``pad_to`` makes it
    exactly that many bytes (with a chunk decoders skip), for upload-limit tests.
    """
    rng = random.Random(seed)
    if noise:
        rows = b"".join(b"\x00" + rng.randbytes(width * 3) for _ in range(height))
    else:
        pixel = bytes(rng.randrange(256) for _ in range(3))
        rows = (b"\x00" + pixel * width) * height
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return _assemble(header, zlib.compress(rows, 6), pad_to)


@functools.cache
def huge_png(width: int, height: int, *, pad_to: int | None = None) -> bytes:
    """A valid black-and-white PNG of ``width`` x ``height`` pixels that is small to make and send.

    One bit a pixel, compressed row by row: a 12000 x 12000 picture (144 megapixels, which a
    decoder holds in hundreds of megabytes) takes a few kilobytes before ``pad_to``.
    """
    compressor = zlib.compressobj(9)
    row = bytes(1 + (width + 7) // 8)  # filter byte "none", then all pixels black
    idat = b"".join(compressor.compress(row) for _ in range(height)) + compressor.flush()
    header = struct.pack(">IIBBBBB", width, height, 1, 0, 0, 0, 0)
    return _assemble(header, idat, pad_to)


def truncated(png: bytes) -> bytes:
    """``png`` cut off in the middle of its pixel data, as by a dropped transfer."""
    start = png.index(b"IDAT")
    return png[: start + (len(png) - start) // 2]
