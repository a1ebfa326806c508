"""A batch-ranked family's cells in O(1) per key: deciders grouped into ranking *profiles*.

Why: a family (``sim.decisions._Family``) files its cells by (the fields the
resolver read, the policy's ranking), so a key's cell needs its ranking, and
ranking a step's keys through ``rank_batch`` is a dozen numpy passes plus the
read-set look-ups (at 10^4 drawn negotiators, ~28 of ~41 ms a step). Past the
parameters, a ranking depends only on the observation fields ``rank_batch``
reads (a few: the negotiation's close reads trust, stake and risk, 882
values). So at build every decider's ranking of every such value is computed
once; deciders ranking every value alike form a *profile* (a few hundred
among thousands of drawn variants). A key's cell is then two gathers:
(profile, ranked fields) -> ranking, (ranking, code) -> cell.

Only tables too large to be dense use it (a dense table already reaches a
cell in one gather). Keys it cannot answer (a decider added after build, a
(ranking, code) never met) go through the family's own path, which files the
cell as before, in the same order, so the table's cells are the ones stepping
without profiles makes (``tests/test_family_profiles.py``).

Contract relied on: which fields ``rank_batch`` reads does not depend on their
values (it is a batch function over whole arrays); a read is anything asking
the observation mapping for a field, its keys or its values.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import numpy as np

from agents.uniques import runs, unique, unique_inverse

#: Most ranked-field values a family's profiles cover (beyond: no profiles, the family ranks per key).
MAX_VALUES = 1 << 14
#: Most entries of a family's direct (profile, code) table (beyond: ranking, then cell, looked up).
DIRECT_LIMIT = 1 << 21
#: Bits of a family filing's key that hold the ranking (``sim.decisions._RID_BITS``).
RID_BITS = 20
#: Rankings evaluated per ``rank_batch`` call while profiling (bounds the temporaries).
CHUNK = 1 << 18


class _Reads(dict[str, Any]):
    """An observation mapping that notes the fields asked for (``rank_batch``'s read-set)."""

    def __init__(self, fields: dict[str, Any]) -> None:
        super().__init__(fields)
        self.read: set[str] = set()

    def __getitem__(self, key: str) -> Any:
        self.read.add(key)
        return super().__getitem__(key)

    def get(self, key: str, default: Any = None) -> Any:  # type: ignore[override]
        self.read.add(key)
        return super().get(key, default)

    def __contains__(self, key: object) -> bool:
        self.read.add(str(key))
        return super().__contains__(key)

    def _all(self) -> None:
        self.read.update(super().keys())

    def __iter__(self) -> Iterator[str]:
        self._all()
        return super().__iter__()

    def keys(self) -> Any:
        self._all()
        return super().keys()

    def values(self) -> Any:
        self._all()
        return super().values()

    def items(self) -> Any:
        self._all()
        return super().items()


def ranked_fields(fam: Any, codec: Any) -> tuple[int, ...]:
    """Positions of the observation fields the family's ``rank_batch`` reads."""
    params = {k: np.zeros(1) for k in fam.names}
    obs = _Reads({name: np.zeros(1, dtype=np.int64) for name in codec.fields})
    fam.cls.rank_batch(params, obs, fam.acts)
    return tuple(i for i, name in enumerate(codec.fields) if name in obs.read)


class Profiles:
    """One family's deciders by ranking profile, and the cells its (ranking, code) keys met.

    Attributes:
        index: positions of the fields the ranking reads.
        profile: per decider (table numbering) its profile, -1 none (not profiled).
        rids: (profiles, values) ranking number (``_Family.rid``) of each ranked-field value.
        lut: (rankings, codes) cell + 1 of each (ranking, code) met, 0 not yet.
        direct: (profiles x codes) cell + 1 of each (profile, code), from ``rids`` and ``lut``: what
            a look-up reads (one gather); None when larger than ``DIRECT_LIMIT`` (then no profiles).
    """

    def __init__(self, index: tuple[int, ...], codec: Any) -> None:
        self.index = index
        self.codec = codec
        card = [codec.card[i] for i in index]
        # Ranked-field value number: mixed radix over the fields read, first field most significant.
        self.values = int(np.prod(card, dtype=np.int64)) if card else 1
        self.weight = [int(np.prod(card[k + 1:], dtype=np.int64)) for k in range(len(card))]
        self.profile = np.zeros(0, dtype=np.int64)
        self.rids = np.zeros((0, self.values), dtype=np.int32)
        self.kinds: dict[bytes, int] = {}
        self.lut = np.zeros((0, codec.space), dtype=np.int32)
        self._stamp: tuple[int, int, int] = (-1, -1, -1)  # the filings ``refresh`` last read
        self.direct: np.ndarray | None = None  # see _derive
        self.code_value = self.value_of(np.arange(codec.space, dtype=np.int64))  # per code: its value number
        self.member = np.zeros(0, dtype=np.int64)  # per profile: a decider of it (cells are a family's)

    def value_of(self, codes: np.ndarray) -> np.ndarray:
        """Each code's ranked-field value number."""
        c = self.codec
        out = np.zeros(len(codes), dtype=np.int64)
        for i, w in zip(self.index, self.weight, strict=True):
            out += (codes // c.radix[i]) % c.card[i] * w
        return out

    def add(self, fam: Any, deciders: np.ndarray) -> None:
        """Profile ``deciders`` (members of ``fam``): their ranking of every ranked-field value."""
        c = self.codec
        v = np.arange(self.values, dtype=np.int64)
        # Every field at its first value, the ranked ones through all of theirs.
        fields = {name: np.full(self.values, -c.offset[i], dtype=np.int64) for i, name in enumerate(c.fields)}
        for i, w in zip(self.index, self.weight, strict=True):
            fields[c.fields[i]] = (v // w) % c.card[i] - c.offset[i]
        rows = np.empty((len(deciders), self.values), dtype=np.int32)
        step = max(1, CHUNK // self.values)
        for at in range(0, len(deciders), step):
            ds = deciders[at:at + step]
            k = len(ds)
            params = {name: np.repeat(col, self.values) for name, col in fam.params(ds).items()}
            want, order = fam.cls.rank_batch(params, {n: np.tile(f, k) for n, f in fields.items()}, fam.acts)
            uw, inv = unique_inverse(want)
            rid = np.array([fam.ranking_id(w, order) for w in uw.tolist()], dtype=np.int32)
            rows[at:at + k] = rid[inv].reshape(k, self.values)
        had = len(self.kinds)
        prof = np.array([self.kinds.setdefault(r.tobytes(), len(self.kinds)) for r in rows], dtype=np.int64)
        if len(self.kinds) > had:
            grown = np.zeros((len(self.kinds), self.values), dtype=np.int32)
            grown[:had] = self.rids
            grown[prof] = rows
            self.rids = grown
            member = np.zeros(len(self.kinds), dtype=np.int64)
            member[:had] = self.member
            new = prof >= had
            member[prof[new]] = deciders[new]
            self.member = member
        top = int(deciders.max()) + 1 if len(deciders) else 0
        if top > len(self.profile):
            self.profile = np.concatenate([self.profile, np.full(top - len(self.profile), -1, dtype=np.int64)])
        self.profile[deciders] = prof
        self._room(len(fam.rankings))
        self._derive()

    def renumber(self, remap: np.ndarray, fam: Any) -> None:
        """Ranking numbers ``r`` now ``remap[r]`` (a kept table restored into an empty one: no cell
        was met, so the cells are read afresh from the restored filings)."""
        if len(self.rids):
            self.rids = remap[self.rids]
        self.lut = np.zeros((len(fam.rankings), self.codec.space), dtype=np.int32)
        self._stamp = (-1, -1, -1)
        self.refresh(fam)

    def _room(self, rankings: int) -> None:
        if rankings > len(self.lut):
            grown = np.zeros((rankings, self.codec.space), dtype=np.int32)
            grown[:len(self.lut)] = self.lut
            self.lut = grown

    def refresh(self, fam: Any) -> None:
        """Fill every (ranking, code) entry the family's filings already answer (a cache of
        them: a filed cell never changes, and earlier read-sets are tried first, as there)."""
        stamp = (len(fam.rankings), len(fam.read_sets), sum(len(filed) for _, filed in fam.read_sets))
        if stamp == self._stamp:
            return
        self._stamp = stamp
        self._room(len(fam.rankings))
        c = self.codec
        codes = np.arange(c.space, dtype=np.int64)
        rankings = np.arange(len(self.lut), dtype=np.int64)
        for index, filed in fam.read_sets:
            sub = np.zeros(c.space, dtype=np.int64)
            for i in index:
                sub = sub * c.card[i] + (codes // c.radix[i]) % c.card[i]
            subs, inv = unique_inverse(sub)
            keys = (subs[None, :] << RID_BITS) | rankings[:, None]
            found = np.array([filed.get(k, -1) for k in keys.ravel().tolist()], dtype=np.int64)
            got = found.reshape(keys.shape)[:, inv] + 1
            self.lut = np.where(self.lut == 0, got, self.lut).astype(np.int32)
        self._derive()

    def _derive(self) -> None:
        """The direct (profile, code) -> cell + 1 table the look-ups read (None: too large)."""
        space = self.codec.space
        if len(self.rids) * space > DIRECT_LIMIT or not len(self.lut):
            self.direct = None
            return
        codes = np.arange(space, dtype=np.int64)
        self.direct = self.lut[self.rids[:, self.code_value], codes[None, :]].ravel()

    def cells(self, fam: Any, deciders: np.ndarray, codes: np.ndarray,
              ranked: Callable[[np.ndarray, np.ndarray], np.ndarray],
              filed: Callable[[np.ndarray, np.ndarray, np.ndarray], np.ndarray]) -> np.ndarray:
        """The cell of each key. Keys of deciders not profiled go to ``ranked`` (the family's own
        path); a (ranking, code) no filing answers goes to ``filed`` with its ranking, once."""
        direct = self.direct
        if direct is None or not len(deciders) or int(deciders.max()) >= len(self.profile):
            return ranked(deciders, codes)  # a decider added since the profiles were made
        prof = self.profile[deciders]
        if (prof < 0).any():
            return ranked(deciders, codes)
        space = self.codec.space
        key = prof * space + codes
        cells = direct[key].astype(np.int64) - 1
        if not (cells < 0).any():
            return cells
        self.refresh(fam)
        direct = self.direct
        assert direct is not None
        cells = direct[key].astype(np.int64) - 1
        miss = np.flatnonzero(cells < 0)
        if len(miss):
            # Distinct (profile, code) keys, then distinct (ranking, code): few, however many keys.
            p, c = np.divmod(_distinct(key[miss], len(direct)), space)
            r = self.rids[p, self.code_value[c]].astype(np.int64)
            _, first, _ = runs(r * space + c)
            made = filed(self.member[p[first]], c[first], r[first])
            self._room(len(fam.rankings))
            self.lut[r[first], c[first]] = made + 1
            self._derive()
            direct = self.direct
            assert direct is not None
            cells[miss] = direct[key[miss]].astype(np.int64) - 1
        return cells


def _distinct(keys: np.ndarray, size: int) -> np.ndarray:
    """Sorted distinct ``keys`` (all below ``size``): marked when many, else sorted."""
    if len(keys) * 16 > size:
        mark = np.zeros(size, dtype=np.bool_)
        mark[keys] = True
        return np.flatnonzero(mark)
    return unique(keys)
