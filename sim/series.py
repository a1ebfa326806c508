"""A run's per-step series: one column per metric, kept as the arrays it was booked in until read.

Why: a fast-forwarded stretch books its steps as numpy columns (``sim.metrics.record_steps``).
Turning each into Python floats as it came (``tolist``: 27 columns x 200 steps for the
12-strategy round robin) cost about a tenth of that run, and most runs are read through
their final metrics or a frame built from arrays (``RunResult.steps``). A column read by
name becomes the list of floats the contract promises, once; short bookings (one step
played the generic way) are appended to that list directly, as before.
"""

from __future__ import annotations

from collections.abc import Iterator, MutableMapping

import numpy as np

#: Bookings of at least this many steps are kept as arrays until a column is read.
MIN_BLOCK = 16


class Series(MutableMapping[str, list[float]]):
    """Metric name -> its value per step (a list of floats when read), in the order names joined."""

    def __init__(self) -> None:
        # A column is either its list (read, or booked a step at a time) or the arrays booked so far.
        self._cols: dict[str, list[float] | list[np.ndarray]] = {}
        self._blocks: set[str] = set()  # names whose value in ``_cols`` is a list of arrays
        # A run's first booking as it came (``start_block``): its names (the keys of ``_cols``,
        # values not yet set) and (C, K) block, made columns when a value is first wanted.
        self._pending: tuple[list[str], np.ndarray] | None = None
        # Later blocks booked while the first is pending (``add_block``), in order: applied with it.
        self._later: list[tuple[list[str], np.ndarray, int]] = []

    def _settle(self) -> None:
        """Make the pending block's rows columns: ``start_block``'s work, done when first needed
        (a run read only through its final metrics never needs it), then the later blocks'
        (``add_block``); nothing when none is pending."""
        if self._pending is None:
            return
        names, block = self._pending
        self._pending = None
        if block.shape[1] >= MIN_BLOCK:
            self._cols = {name: [row] for name, row in zip(names, block, strict=True)}
            self._blocks = set(names)
        else:
            self._cols = dict(zip(names, block.tolist(), strict=True))
        later, self._later = self._later, []
        for names, block, steps in later:
            self._add_block(names, block, steps)

    def __getitem__(self, name: str) -> list[float]:
        self._settle()
        col = self._cols[name]
        if name in self._blocks:
            self._blocks.discard(name)
            col = self._cols[name] = np.concatenate(col).tolist()  # type: ignore[arg-type]
        return col  # type: ignore[return-value]

    def __setitem__(self, name: str, values: list[float]) -> None:
        self._settle()
        self._blocks.discard(name)
        self._cols[name] = values

    def __delitem__(self, name: str) -> None:
        self._settle()
        self._blocks.discard(name)
        del self._cols[name]

    def __contains__(self, name: object) -> bool:
        return name in self._cols

    def __iter__(self) -> Iterator[str]:
        return iter(self._cols)

    def __len__(self) -> int:
        return len(self._cols)

    def __repr__(self) -> str:
        return f"Series({list(self._cols)})"

    def extend(self, name: str, values: np.ndarray) -> None:
        """Append the booked ``values`` (a 1-D array) to column ``name``, which must exist."""
        self._settle()
        block = _block(values) if len(values) >= MIN_BLOCK else None
        if name in self._blocks:
            if block is not None:
                self._cols[name].append(block)  # type: ignore[arg-type]
                return
            self[name]  # a step at a time from here: the column becomes its list
        col = self._cols[name]
        if not col and block is not None:
            self._blocks.add(name)
            self._cols[name] = [block]
            return
        col.extend(values.tolist())  # type: ignore[arg-type]

    def extend_all(self, cols: dict[str, np.ndarray], k: int) -> None:
        """``extend`` every column by its ``k`` values in ``cols`` (NaN where absent).

        Float columns that have no values yet (a run's first booking) are copied in one call,
        as the rows of one block, rather than one copy each."""
        self._settle()
        names = list(self._cols)
        if k >= MIN_BLOCK:
            fresh = [name for name in names if name in cols and not self._cols[name] and cols[name].dtype.kind == "f"]
            if len(fresh) > 1:
                block = np.array([cols[name] for name in fresh], dtype=np.float64)
                for name, row in zip(fresh, block, strict=True):
                    self._cols[name] = [row]
                self._blocks.update(fresh)
                done = set(fresh)
                names = [name for name in names if name not in done]
        for name in names:
            self.extend(name, cols[name] if name in cols else np.full(k, np.nan))

    def start_block(self, names: list[str], block: np.ndarray) -> None:
        """A run's first booking, every column at once: ``names[c]`` is row ``c`` of ``block``
        (C, K) float64, which nobody writes again (``sim.summary_book``). What ``extend_all``
        leaves for these columns, without copying them out and back into a block: kept as it
        is until a column is read or booked again (``_settle``)."""
        if self._cols:
            raise ValueError("start_block: the series already has columns")
        if len(names) != len(block):
            raise ValueError("start_block: a name per row")
        self._cols = dict.fromkeys(names)  # type: ignore[assignment]  # the names, in order; values to come
        self._pending = (names, block)

    def add_block(self, names: list[str], block: np.ndarray, steps: int) -> None:
        """A later booking of a block (float64, which nobody writes again): each new name joins
        with NaN for the ``steps`` steps before it, in the block's order, then every column takes
        its row (``extend_rows``). While the first block is pending this is kept to be done with
        it (a run with a join books two blocks; read only through its final metrics, it never
        needs either made columns): only the names join now."""
        if self._pending is None:
            self._add_block(names, block, steps)
            return
        for name in names:
            if name not in self._cols:
                self._cols[name] = None  # type: ignore[assignment]  # its value comes with the block
        self._later.append((names, block, steps))

    def _add_block(self, names: list[str], block: np.ndarray, steps: int) -> None:
        for name in names:
            if name not in self._cols:
                self[name] = [float("nan")] * steps
        self.extend_rows(dict(zip(names, block, strict=True)), block.shape[1])

    def extend_rows(self, rows: dict[str, np.ndarray], k: int) -> None:
        """``extend_all`` for a block's rows (float64, which nobody writes again, as in
        ``start_block``): a column kept as arrays takes its row as it is, however short (no
        conversion to a list: the floats read back are the same), NaN where absent."""
        self._settle()
        for name, col in self._cols.items():
            row = rows.get(name)
            if row is None:
                row = np.full(k, np.nan)
            if name in self._blocks:
                col.append(row)  # type: ignore[arg-type]
            elif not col:
                self._cols[name] = [row]  # a value for an existing key: the dict keeps its size
                self._blocks.add(name)
            else:
                col.extend(row.tolist())  # type: ignore[arg-type]

    def arrays(self) -> dict[str, np.ndarray | list[float]]:
        """Every column for a frame, names in order: its list, or the booked arrays joined (not read
        as Python floats)."""
        self._settle()
        out = {}
        for name, col in self._cols.items():
            if name in self._blocks:
                if len(col) > 1:
                    col = self._cols[name] = [np.concatenate(col)]  # type: ignore[list-item]
                out[name] = col[0]  # type: ignore[assignment]
            else:
                out[name] = col  # type: ignore[assignment]  # a list, as booked
        return out


def _block(values: np.ndarray) -> np.ndarray | None:
    """``values`` as an array of its own whose frame column equals the list's (``tolist`` gives
    Python floats or ints: float64 or int64), or None to book it as a list."""
    kind = values.dtype.kind
    if kind == "f":
        return values.astype(np.float64)  # a copy: the booked array may be a view of reused records
    if kind == "i" or (kind == "u" and values.dtype.itemsize < 8):
        return values.astype(np.int64)
    return None
