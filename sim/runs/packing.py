"""Columns packed into one compressed blob: how a run's bulk data is stored.

A run's time series and event ledger are a few columns of thousands of small
integers and floats. As SQLite rows each value costs a record header, a cell
pointer and a key (about 20 bytes a row); packed column by column, each in
the narrowest integer type that holds it, then deflated, the same values
cost well under one byte each in the demo sweep. A blob is self-describing
(a JSON header names each column, its type and length), so it decodes
alone, and the round trip is exact: floats keep their bits, NaN included.

Why these encodings: sorted step numbers repeat, so they are stored as
differences (mostly 0); float64 values are stored as byte planes (all first
bytes, then all second bytes ...), which puts the nearly constant sign and
exponent bytes together where deflate finds them.
"""

from __future__ import annotations

import json
import struct
import zlib
from collections.abc import Mapping

import numpy as np

#: Version of the blob layout, first in every header.
FORMAT = 1
_LEVEL = 6  # deflate level: 9 gains under 3% here at twice the time
_INTS = (np.int8, np.int16, np.int32, np.int64)


def pack(columns: Mapping[str, np.ndarray], *, deltas: tuple[str, ...] = ()) -> bytes:
    """Pack equal-purpose columns (int, float or bool arrays) into one compressed blob.

    Args:
        columns: name -> 1-d array; integer columns may hold any int64 value,
            float columns any float64 (NaN and infinities included).
        deltas: integer columns stored as differences from the previous value.

    Returns:
        ``len(header) | header JSON | column bytes``, deflated.
    """
    header: list[list[object]] = []
    parts: list[bytes] = []
    for name, values in columns.items():
        arr = np.asarray(values)
        if arr.dtype.kind == "f":
            raw = arr.astype("<f8")
            parts.append(raw.view(np.uint8).reshape(-1, 8).T.tobytes())
            header.append([name, "f8", len(raw), 0])
        elif arr.dtype.kind in "iub":
            ints = arr.astype(np.int64)
            delta = name in deltas
            if delta and len(ints):
                ints = np.diff(ints, prepend=np.int64(0))
            dtype = _narrowest(ints)
            parts.append(ints.astype(dtype).tobytes())
            header.append([name, np.dtype(dtype).str, len(ints), int(delta)])
        else:
            raise TypeError(f"column {name!r}: cannot pack dtype {arr.dtype}")
    head = json.dumps([FORMAT, header], separators=(",", ":")).encode()
    return zlib.compress(struct.pack("<I", len(head)) + head + b"".join(parts), _LEVEL)


def unpack(blob: bytes) -> dict[str, np.ndarray]:
    """The columns of a blob made by :func:`pack` (integers as int64, floats as float64).

    Raises:
        ValueError: the blob is not a packed-columns blob of a known layout.
    """
    try:
        data = zlib.decompress(blob)
        (size,) = struct.unpack_from("<I", data)
        fmt, header = json.loads(data[4 : 4 + size])
    except (zlib.error, struct.error, ValueError, TypeError) as err:
        raise ValueError(f"not a packed-columns blob ({err})") from None
    if fmt != FORMAT:
        raise ValueError(f"packed-columns layout {fmt}, this specbound reads {FORMAT}")
    out: dict[str, np.ndarray] = {}
    at = 4 + size
    for name, dtype, n, delta in header:
        width = np.dtype(dtype).itemsize
        chunk = np.frombuffer(data, dtype=np.uint8, count=n * width, offset=at)
        at += n * width
        if dtype == "f8":
            out[name] = chunk.reshape(8, n).T.copy().view("<f8").reshape(n).astype(np.float64)
        else:
            ints = chunk.view(dtype).astype(np.int64)
            out[name] = np.cumsum(ints) if delta else ints
    return out


def _narrowest(ints: np.ndarray) -> type:
    if not len(ints):
        return np.int8
    lo, hi = int(ints.min()), int(ints.max())
    return next(t for t in _INTS if np.iinfo(t).min <= lo and hi <= np.iinfo(t).max)
