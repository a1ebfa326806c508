"""The decision table: every (decider, observation code) key's cell, and every cell's outcomes.

A decision is a pure function of (the agent's binding, its policy, the
observation code). A *decider* is one (binding, policy, phase); the table
maps each (decider, code) key to a *cell* (the resolver's choice with and
without deliberation) and every (cell, act) to an *outcome* whose
consequences (conflicts, violation, deception, compliance per principle...)
are computed once. A step is then array look-ups and ``bincount``s whatever
the population size; only keys never seen before go through Python.

Read-set memo: a new cell is computed on a ``RecordingObs`` proxy
(``agents/readset.py``) that records the observation fields the policy, the
resolver and the checks read. The cell is pure in those fields, so a later
code agreeing with it on them gets the same cell (no new cell, no new
outcomes): ipd-classic needs 36 cells instead of 711.
"""

from __future__ import annotations

import dataclasses
import operator
from collections.abc import Callable, Hashable, Sequence
from typing import Any

import numpy as np

from agents.acts import ActSpace
from agents.chain import Binding, ConflictEvent
from agents.checks import applies_to, evaluate
from agents.kernel_loader import worth_loading
from agents.overrides import override_events, reports_overrides
from agents.readset import fields_read, fork, is_recording, note, recording, unwrap
from agents.spec import Level
from agents.uniques import unique, unique_inverse
from sim.cell_memo import (
    FAMILY_CELLS,
    MEMO,
    TABLES,
    CellRecord,
    OutcomeRecord,
    binding_signature,
    compose_signature,
    policy_signature,
)
from sim.family_profiles import MAX_VALUES, RID_BITS, Profiles, ranked_fields
from sim.hashed_cells import HASHED_BUDGET, HashedCells, count_keys
from sim.learning import is_learner, tier_of

LEVELS = len(Level)
#: Most entries of a dense look-up table; beyond it cells live in a dict per phase.
DENSE_TABLE_LIMIT = 1 << 22
#: Largest dense table a kept state holds built (entries); larger ones are rebuilt per run.
SHARED_DENSE_LIMIT = 1 << 20
#: Outcome columns: conflicts logged, a root/system principle broken, deception, covert act,
#: cooperative move (-1: not a cooperation move), an injected instruction served.
OUTCOME_COLUMNS = {"nconf": np.int32, "violation": np.int8, "deception": np.int8,
                   "covert": np.int8, "coop": np.int8, "injected": np.int8, "group": np.int32}


def memoisable(policy: Any) -> bool:
    """Whether a policy's ranking is a pure function of the observation (not a language model)."""
    return bool(getattr(policy, "memoisable", True))


@dataclasses.dataclass(frozen=True, slots=True)
class Decider:
    """What decides: a compiled binding, a policy, and the phase (act space) of the decision."""

    binding: Binding
    policy: Any
    phase: int
    group: int = 0  # a decider's policy belongs to one group: its outcomes count for that group
    # The binding's number in this table (equal bindings, one number): memo keys hold it, not the
    # binding, whose hash walks the whole spec every time.
    bid: int = 0


class _ReadSet:
    """A decider's cells whose decision read exactly the fields ``index``, by those fields' values."""

    __slots__ = ("cells", "index", "values")

    def __init__(self, index: tuple[int, ...]) -> None:
        self.index = index  # field positions in the observation, in field order
        self.cells: dict[Any, int] = {}
        # The key of an observation: its values at ``index`` (an itemgetter: this runs for
        # every key missing from the dense table). One field gives a bare value, none ().
        self.values: Callable[[Any], Any] = (
            operator.itemgetter(*index) if index else _no_values)

    @classmethod
    def of(cls, index: tuple[int, ...], cells: dict[Any, int]) -> _ReadSet:
        """A read-set holding a copy of ``cells``."""
        rs = cls(index)
        rs.cells = dict(cells)
        return rs


def _no_values(obs: Any) -> tuple[()]:
    return ()


def _read_sets_of(state: dict[str, Any]) -> dict[int, list[_ReadSet]]:
    """Fresh read-set objects (each with its own copy of the cells) from a kept table state."""
    return {d: [_ReadSet.of(index, cells) for index, cells in sets] for d, sets in state["read_sets"].items()}


#: Decider signatures by value, one object each (``DecisionTable._signature``); at most
#: ``MAX_CANONICAL``, then started afresh (equal ones then compare by value, as before).
_CANONICAL: dict[_Keyed, _Keyed] = {}
MAX_CANONICAL = 200_000


class _Keyed:
    """A tuple key whose hash is computed once (a population's signatures are deep tuples)."""

    __slots__ = ("_hash", "key")

    def __init__(self, key: tuple[Any, ...]) -> None:
        self.key = key
        self._hash = hash(key)

    def __hash__(self) -> int:
        return self._hash

    def __eq__(self, other: object) -> bool:
        return isinstance(other, _Keyed) and (self is other or (self._hash == other._hash and self.key == other.key))


class _Growable:
    """Columns of numpy arrays that grow by doubling; rows appended one at a time.

    Appended rows wait in a list and are written to the arrays in one go when the
    arrays are next read: a heterogeneous population appends tens of thousands of rows
    a step, and a numpy scalar write per column and row cost more than the rest.
    """

    def __init__(self, dtypes: dict[str, Any]) -> None:
        self.n = 0
        self._names = tuple(dtypes)
        self._arr = {k: np.zeros(16, dtype=t) for k, t in dtypes.items()}
        self._rows: list[tuple[int, ...]] = []

    def __len__(self) -> int:
        return self.n

    def append(self, *row: int) -> int:
        """Append one row (a value per column, in the columns' order); returns its index."""
        self._rows.append(row)
        self.n += 1
        return self.n - 1

    @property
    def arr(self) -> dict[str, np.ndarray]:
        """The columns, every appended row written (rows past ``n`` are spare zeros)."""
        if self._rows:
            self._flush()
        return self._arr

    @arr.setter
    def arr(self, arrays: dict[str, np.ndarray]) -> None:
        self._rows = []
        self._arr = arrays

    def _flush(self) -> None:
        rows, self._rows = self._rows, []
        start = self.n - len(rows)
        size = len(next(iter(self._arr.values())))
        if size < self.n:
            while size < self.n:
                size *= 2
            for k, a in self._arr.items():
                grown = np.zeros(size, dtype=a.dtype)
                grown[:start] = a[:start]
                self._arr[k] = grown
        for k, col in zip(self._names, zip(*rows, strict=True), strict=True):
            self._arr[k][start:self.n] = col


class _Flat:
    """A growing table of small ints (a sparse matrix in coordinate form)."""

    def __init__(self, names: Sequence[str]) -> None:
        self.cols: dict[str, list[int]] = {k: [] for k in names}
        self._arr: dict[str, np.ndarray] | None = None

    def append(self, **values: int) -> None:
        for k, v in values.items():
            self.cols[k].append(v)
        self._arr = None

    def arrays(self) -> dict[str, np.ndarray]:
        if self._arr is None:
            self._arr = {k: np.asarray(v, dtype=np.int64) for k, v in self.cols.items()}
        return self._arr


def _distinct_keys(keys: np.ndarray, size: int) -> np.ndarray:
    """``unique(keys)`` for keys of a dense table of ``size`` entries: marked and read back in
    order when they are many (a fresh model's first step misses ~10^6 keys: a sort of them
    all cost more than one pass over the table)."""
    if len(keys) * 16 > size:
        mark = np.zeros(size, dtype=np.bool_)
        mark[keys] = True
        return np.flatnonzero(mark)
    return unique(keys)


class DecisionTable:
    """Cells and outcomes of every decision key a run has met.

    Args:
        codec: the environment's observation codec (``decode``, ``fields``, ``space``).
        phases: the environment's act spaces, one per decision phase.
    """

    def __init__(self, codec: Any, phases: Sequence[ActSpace]) -> None:
        self.codec = codec
        self.phases = tuple(phases)
        self.deciders: list[Decider] = []
        self._decider_ids: dict[tuple[int, int, int], int] = {}  # (binding number, id(policy), phase)
        self._luts: list[np.ndarray | None] = [None for _ in self.phases]
        #: Deciders a dense table is first made with room for beyond those it needs (the model's
        #: declared joins): a join then fills zeroed pages instead of copying the whole table.
        self.reserve = 0
        self._cell_dicts: list[dict[int, int]] = [{} for _ in self.phases]
        self._hashed: list[HashedCells | None] = [None for _ in self.phases]  # compiled mirrors
        # Per decider (deciders are per phase): the read-sets of its cells, tried on a table miss.
        self._read_sets: dict[int, list[_ReadSet]] = {}
        self._sigs: dict[int, Hashable | None] = {}
        self._pol_sigs: dict[int, tuple[Any, Hashable | None]] = {}  # by id(policy): (policy, signature)
        # Per (binding, phase): which constraints' checks apply to the phase's acts at all. It
        # depends on neither the observation nor the act, so it is computed once, not per outcome.
        self._applies: dict[tuple[int, int], tuple[bool, ...]] = {}
        self._bids: dict[Binding, int] = {}
        # Outcome rows shared between cells that would write the same ones (see _outcomes_of).
        self._outcome_memo: dict[tuple[Any, ...], tuple[int, frozenset[str]]] = {}
        self._cell_memo: dict[tuple[Any, ...], tuple[int, frozenset[str]]] = {}  # see _new_cell
        # First outcome row -> the records of the rows from there (one per act), so a computed
        # cell can be filed in ``sim.cell_memo.MEMO``; and rows written from remembered records,
        # by (group, the records' identity), so cells that shared rows when computed share them
        # when replayed.
        self._out_recs: dict[int, tuple[OutcomeRecord, ...]] = {}
        self._rec_rows: dict[tuple[int, int], int] = {}
        self._cells = _Growable({"full": np.int32, "root": np.int32, "base": np.int64, "tier": np.int64})
        self._outcomes = _Growable(OUTCOME_COLUMNS)
        self._outcome_conflicts: list[tuple[ConflictEvent, ...]] = []
        self._comp = _Flat(("outcome", "principle", "held", "level"))
        self._conf = _Flat(("outcome", "pair"))
        #: Principles with a check, in the order deciders first met them (compliance metrics).
        self.principle_ids: list[str] = []
        self._pidx: dict[str, int] = {}
        # A state restored by ``warm`` and still shared with ``sim.cell_memo.TABLES``: copied
        # only when this table first computes a cell (``_thaw``), so a warm run copies nothing.
        self._shared: dict[str, Any] | None = None
        # (deciders, state) of the kept families' table ``warm_families`` restored: while the table
        # still shares it, ``keep_families`` has nothing to offer (not even its key to compute).
        self._warmed: tuple[int, dict[str, Any]] | None = None
        #: Facts about the cells held (say, which keys a kernel completed up front), kept with the
        #: table across runs (``keep``/``warm``): they stay true, since cells are only ever added.
        self.marks: dict[str, Any] = {}
        self._pop_key: tuple[int, Hashable | None] | None = None  # population_key, by decider count
        # The population key this table was first warmed under (``warm``): ``keep`` offers its
        # state there too, for later runs that start from that population and add deciders.
        self._origin: Hashable | None = None
        # A restored state's signatures past this table's deciders (``warm``): a decider added
        # later keeps the state's entries if it is the one the state's run added there.
        self._ahead: tuple[Any, ...] | None = None
        self._fam_key: tuple[int, Hashable | None] | None = None  # family_key, by decider count
        self._families = _Families()
        self._binding_sigs: dict[tuple[int, int], tuple[Any, ...]] = {}
        self._weights: tuple[int, dict[str, np.ndarray], np.ndarray] | None = None  # see count_weights
        self._matrix: tuple[dict[str, np.ndarray], dict[str, np.ndarray], int, np.ndarray] | None = None
        self._by_profile = False  # every decider's cells through its family's profiles (prepare_profiles)

    def family_cell(self, d: Decider, obs: Any, ranking: tuple[int, ...]) -> tuple[int, frozenset[str]]:
        """The cell of a pure, non-learning decider's ``obs`` given its policy's ``ranking``, and the
        fields the resolver's part read: ``_new_cell``'s shared part, for batch-ranked deciders."""
        key = (d.bid, d.phase, d.group, obs, ranking, reports_overrides(d.policy), False)
        hit = self._cell_memo.get(key)
        if hit is None:
            self._thaw(d.phase, None)
            # The same resolver's part computed by an earlier run of the process (a sweep's or a
            # bench's runs): its record is copied in, as ``_cell_of`` copies ``MEMO``'s.
            pkey = (self._binding_part(d.binding, d.bid, d.phase), obs, ranking, key[5])
            known = FAMILY_CELLS.get(pkey)
            if known is not None:
                hit = self._cell_memo[key] = (self._insert(d, known[0]), known[1])
                return hit
            own = recording(obs)
            cell = self._resolve_cell(d, own, ranking, True)
            hit = self._cell_memo[key] = (cell, fields_read(own))
            rec = self._record(cell, ())
            if rec is not None:
                FAMILY_CELLS.put(pkey, (rec, hit[1]))
        return hit

    def batch_families(self, deciders: np.ndarray) -> tuple[np.ndarray, list[_Family]] | None:
        """Each decider's batch-ranked family (-1: none) and the families (read by compiled loops
        that rank as a family's class does and look its filed cells up); None: no family."""
        fam = self._families.of(self, deciders)
        return None if fam is None else (fam, self._families.families)

    def prepare_families(self) -> None:
        """Sort the deciders into batch-ranked families now (a model's build) rather than on the
        first look-up (~10 us a decider: a tenth of a second for 10^4 drawn agents' two phases)."""
        self._families.of(self, np.zeros(0, dtype=np.int64))
        for fam in self._families.families:
            fam.params(np.zeros(0, dtype=np.int64))  # the parameter columns, built once
        self.family_key()

    def family_key(self) -> Hashable | None:
        """What a table whose deciders are all batch-ranked holds depends on: per family its
        binding's signature, phase, group, overrides flag and class, and the principles' order.
        Not the drawn variants: a family files its cells by read values and ranking alone, so
        every population of these families (a sweep's seeds) may share one table. None when
        some decider has no family."""
        if self._fam_key is not None and self._fam_key[0] == len(self.deciders):
            return self._fam_key[1]  # deciders (and so families and principles) are only ever added
        fams = self._families
        fams.of(self, np.zeros(0, dtype=np.int64))
        if not fams.families or (fams.fam < 0).any():
            self._fam_key = (len(self.deciders), None)
            return None
        binding = {bid: b for b, bid in self._bids.items()}
        parts = []
        for (bid, phase, group, ro, cls), f in sorted(fams._by_key.items(), key=lambda kv: kv[1]):
            if f < 0:
                continue
            parts.append((self._binding_part(binding[bid], bid, phase), phase, group, ro, cls))
        key = _Keyed(("families", tuple(parts), tuple(self.principle_ids)))
        self._fam_key = (len(self.deciders), key)
        return key

    def warm_families(self) -> bool:
        """Start an empty table of families from the one an earlier run of the process left
        (``family_key``); as ``warm``, the extra cells are counted nowhere and change no result."""
        if self.n_cells:
            return False
        key = self.family_key()
        state = TABLES.get(key) if key is not None else None
        if state is None:
            return False
        self._restore(state)
        self._warmed = (len(self.deciders), state)
        for fam, (rankings, rid, want_rid, read_sets) in zip(self._families.families, state["families"], strict=True):
            fam.rankings, fam.rid, fam.want_rid = list(rankings), dict(rid), dict(want_rid)
            fam.read_sets = [(index, dict(filed)) for index, filed in read_sets]
        return True

    def keeps_profiled(self) -> bool:
        """Whether ``warm_profiled_families`` may restore a kept table into this one."""
        return self._by_profile or not self.fits_dense()

    def warm_profiled_families(self) -> bool:
        """``warm_families`` for a profiled table (``prepare_profiles``) at any time before its first
        cell: a model may be built before the run that keeps the state (a bench's timed model is).
        The kept state numbers rankings its own way, so the profiles' numbers are carried over.
        Dense tables only when their look-ups go through profiles: a kept dense table's entries
        are its drawn deciders', never read then."""
        if self.n_cells or not self.keeps_profiled():
            return False
        self._families.of(self, np.zeros(0, dtype=np.int64))  # every family indexed before it is read
        before = [(list(f.rankings), dict(f.want_rid)) for f in self._families.families]
        if not self.warm_families():
            return False
        for f, (fam, (rankings, want_rid)) in enumerate(zip(self._families.families, before, strict=True)):
            remap = []
            for ranking in rankings:
                r = fam.rid.get(ranking)
                if r is None:
                    r = fam.rid[ranking] = len(fam.rankings)
                    fam.rankings.append(ranking)
                remap.append(r)
            for want, old in want_rid.items():
                fam.want_rid.setdefault(want, remap[old])
            prof = self._families.profiles.get(f)
            if prof is not None:
                prof.renumber(np.array(remap, dtype=np.int32), fam)
        return True

    def keep_families(self) -> None:
        """Offer this table of families to later runs (when it holds more than the kept one)."""
        warmed = self._warmed
        if warmed is not None and warmed[1] is self._shared and warmed[0] == len(self.deciders):
            return  # still the kept state it was restored from, same deciders: nothing more to offer
        key = self.family_key()
        if key is None:
            return
        kept = TABLES.get(key)
        if kept is None or kept["n_cells"] < self.n_cells:
            state = self._snapshot(key)
            state["families"] = [(list(f.rankings), dict(f.rid), dict(f.want_rid),
                                  [(index, dict(filed)) for index, filed in f.read_sets])
                                 for f in self._families.families]
            TABLES.put(key, state)

    # --- deciders ---------------------------------------------------------------------------
    def decider_ids(self, binding: Binding, policy: Any, group: int = 0) -> tuple[int, ...]:
        """The decider of (binding, policy of ``group``) in each phase, created on first use."""
        return tuple(self._ids_of(binding, (policy,), group))

    def decider_ids_of(self, binding: Binding, policies: Sequence[Any], group: int = 0) -> np.ndarray:
        """``decider_ids`` of (``binding``, each of ``policies``): one row per policy, one column
        per phase (a drawn group's variants, given a delegation, in one call)."""
        ids = self._ids_of(binding, policies, group)
        return np.array(ids, dtype=np.int64).reshape(len(policies), len(self.phases))

    def _ids_of(self, binding: Binding, policies: Sequence[Any], group: int) -> list[int]:
        """The deciders of ``decider_ids_of``, row after row."""
        # Equal bindings share a number (``Binding`` keeps its hash): the deciders' keys hold it,
        # not the binding's key, whose hash walks the whole spec on every look-up.
        bid = self._bids.setdefault(binding, len(self._bids))
        start = len(self.deciders)
        ids = []
        for policy in policies:
            pid = id(policy)
            for ph in range(len(self.phases)):
                key = (bid, pid, ph)
                did = self._decider_ids.get(key)
                if did is None:
                    did = self._decider_ids[key] = len(self.deciders)
                    self.deciders.append(Decider(binding, policy, ph, group, bid))
                ids.append(did)
        if len(self.deciders) > start:
            for c in binding.constraints:
                if c.kind == "principle" and c.check is not None and c.id not in self._pidx:
                    self._pidx[c.id] = len(self.principle_ids)
                    self.principle_ids.append(c.id)
            if self._ahead is not None:
                self._keep_ahead(start)
        return ids

    def known_ids(self, binding: Binding, policy: Any) -> tuple[int, ...] | None:
        """``decider_ids`` of deciders that exist already; None where one would be created."""
        bid = self._bids.get(binding)
        if bid is None:
            return None
        ids = tuple(self._decider_ids.get((bid, id(policy), ph), -1) for ph in range(len(self.phases)))
        return None if -1 in ids else ids

    def pristine(self) -> bool:
        """Whether the table holds deciders only: no cell, outcome or look-up table yet."""
        return (not self.n_cells and not len(self._outcomes) and self._shared is None
                and all(lut is None for lut in self._luts) and not any(self._cell_dicts)
                and not self._read_sets and not self.marks)

    def blank(self, codec: Any, phases: Sequence[ActSpace]) -> DecisionTable:
        """A new empty table with this pristine one's deciders, numbers and signatures (for models
        built from a template, ``sim.model_template``): deciders are values, shared; the dicts
        that grow with them are copied."""
        if not self.pristine():
            raise ValueError("only a table without cells has a blank copy")
        t = DecisionTable(codec, phases)
        t.reserve = self.reserve
        t.deciders = list(self.deciders)
        t._decider_ids = dict(self._decider_ids)
        t._bids = dict(self._bids)
        t._sigs = dict(self._sigs)
        t._pol_sigs = dict(self._pol_sigs)
        t._binding_sigs = dict(self._binding_sigs)
        t._applies = dict(self._applies)
        t.principle_ids = list(self.principle_ids)
        t._pidx = dict(self._pidx)
        t._pop_key = self._pop_key
        return t

    # --- look-ups ---------------------------------------------------------------------------
    def cells(self, phase: int, deciders: np.ndarray, codes: np.ndarray) -> np.ndarray:
        """The cell of each (decider, code) key, computing the cells of keys never seen.

        Keys of batch-ranked deciders (``_Families``) missing from the tables are resolved
        together in numpy; with a dense table their cells are filed there like any other.
        """
        fam = self._families.of(self, deciders)
        space = self.codec.space
        need = len(self.deciders) * space
        if need <= DENSE_TABLE_LIMIT and not self._by_profile:
            keys = deciders * space + codes
            lut = self._dense_lut(phase, need)
            cells = lut[keys]
            miss = cells == 0
            if miss.any():
                lut = self._thaw(phase, lut)
                new = _distinct_keys(keys[miss], len(lut))
                owner = new // space
                of = None if fam is None else self._families.fam[owner]
                if of is not None:
                    for f in unique(of[of >= 0]).tolist():
                        sel = of == f
                        lut[new[sel]] = self._families.cells(self, f, phase, owner[sel], new[sel] % space) + 1
                for k in (new if of is None else new[of < 0]).tolist():
                    lut[k] = self._cell_of(phase, k // space, k % space) + 1
                cells = lut[keys]
            return cells.astype(np.int64) - 1
        if fam is None:
            return self._keyed_cells(phase, deciders, codes)
        out = np.empty(len(codes), dtype=np.int64)
        # Families are few small integers (-1: none): counted, not sorted (a million keys a step).
        for f in (np.flatnonzero(np.bincount(fam + 1)) - 1).tolist():
            sel = fam == f
            out[sel] = (self._keyed_cells(phase, deciders[sel], codes[sel]) if f < 0
                        else self._families.cells(self, f, phase, deciders[sel], codes[sel]))
        return out

    def _dense_lut(self, phase: int, need: int) -> np.ndarray:
        """The dense table of ``phase``, grown to ``need`` entries if smaller."""
        lut = self._luts[phase]
        if lut is None or len(lut) < need:
            # Doubling (up to the limit) so that deciders added by events rarely regrow it.
            # Entries are cell + 1, so 0 means missing and the table starts as zeroed pages
            # the OS hands out lazily: only the pages keys land on are ever touched.
            room = need + self.reserve * self.codec.space if lut is None else 2 * len(lut)
            grown = np.zeros(min(max(need, room), DENSE_TABLE_LIMIT), dtype=np.int32)
            if lut is not None:
                grown[: len(lut)] = lut
            lut = self._luts[phase] = grown
        return lut

    def _keyed_cells(self, phase: int, deciders: np.ndarray, codes: np.ndarray) -> np.ndarray:
        """``cells`` through the per-key dict of a table too large to be dense (its compiled
        mirror, ``sim.hashed_cells``, once numba is loaded or pays)."""
        keys = deciders * self.codec.space + codes
        kernel = worth_loading("agents.hashing", count_keys(len(keys)), HASHED_BUDGET)
        if kernel is not None:
            return self._hashed_cells(kernel, phase, keys)
        uniq, inv = unique_inverse(keys)
        return np.array(self._fill(phase, uniq.tolist()), dtype=np.int64)[inv]

    def _fill(self, phase: int, keys_: list[int]) -> list[int]:
        """The cells of distinct keys, computing those the dict lacks in the order given (the
        order cells are numbered in: both ways give keys in increasing order)."""
        space = self.codec.space
        # Every key looked up in one pass; only this loop writes to the dict, and the keys are
        # distinct, so a key missing here is still missing when its turn comes below.
        got = list(map(self._cell_dicts[phase].get, keys_))
        missing = [n_ for n_, c in enumerate(got) if c is None]
        if not missing:
            return got
        values = self.codec.values([keys_[n_] % space for n_ in missing])
        for n_, row in zip(missing, values, strict=True):
            self._thaw(phase, None)
            k = keys_[n_]
            got[n_] = self._cell_dicts[phase][k] = self._cell_of(phase, k // space, k % space, row)
        return got

    def _hashed_cells(self, kernel: Any, phase: int, keys: np.ndarray) -> np.ndarray:
        """``_keyed_cells`` with the dict's keys found in its compiled mirror; keys it lacks go
        through the dict (``_fill``), in increasing order, and are mirrored after."""
        source = self._cell_dicts[phase]
        mirror = self._hashed[phase]
        if mirror is None or not mirror.mirrors(source):
            mirror = self._hashed[phase] = HashedCells(kernel, source)
        cells = mirror.find(kernel, keys)
        miss = np.flatnonzero(cells < 0)
        if len(miss):
            wanted = keys[miss]
            new = unique(wanted)
            got = np.array(self._fill(phase, new.tolist()), dtype=np.int64)
            cells[miss] = got[np.searchsorted(new, wanted)]
            # A restored state's dict is copied before its first cell (``_thaw``): mirrored afresh.
            self._hashed[phase] = mirror.added(kernel, new, got) if self._cell_dicts[phase] is source else None
        return cells

    def dense(self, phase: int) -> np.ndarray | None:
        """The dense table of ``phase`` (entries cell + 1, 0 missing), if it covers every decider.

        None when cells live in the sparse dict (too many deciders) or the table has not
        grown to the deciders added since: :meth:`cells` on any key grows it.
        """
        lut = self._luts[phase]
        if lut is None or len(lut) < len(self.deciders) * self.codec.space:
            return None
        return lut

    def fits_dense(self) -> bool:
        """Whether the deciders' keys fit a dense table (else cells live in a dict)."""
        return len(self.deciders) * self.codec.space <= DENSE_TABLE_LIMIT

    def prepare(self) -> None:
        """Index the batch-ranked families of the deciders there are now, and allocate an empty
        table's dense tables, as the first look-up would: an environment may call it at model
        build so that a fresh model's first step costs what any other does (families and
        tables are the same whenever they are made)."""
        self._families.of(self, np.zeros(0, dtype=np.int64))
        if self.fits_dense() and not self.n_cells:
            # The dense tables too, their pages written once (zeros, as the OS would hand them
            # out): the first step's look-ups then fault on none of them.
            for ph in range(len(self.phases)):
                self._dense_lut(ph, len(self.deciders) * self.codec.space).fill(0)

    def prepare_profiles(self) -> None:
        """Group the batch-ranked deciders into ranking profiles (``sim.family_profiles``), so that
        a key missing from the tables finds its cell without being ranked; a model's build may call
        it (again after deciders are added: only new ones are profiled). When every decider has
        profiles, their (profile, code) tables replace the dense one: a few dozen profiles' rows
        stay in cache where thousands of deciders' rows do not.
        """
        # Once on, kept on: a dense table is never filled while profiles stand in for it, and a
        # decider without profiles (none of a family) is found in the per-key dicts instead.
        self._by_profile = self._families.profile(self) or self._by_profile

    def read_mask(self) -> np.ndarray:
        """(deciders, fields) 1 where some decision of the decider read the field, else 0.

        Every field for deciders whose cells are not shared (language-model policies).
        """
        fields = len(self.codec.fields)
        whole = [not memoisable(dec.policy) or self._families.batched(d) for d, dec in enumerate(self.deciders)]
        shared = self._shared
        if shared is not None:
            # A restored state's read-sets change only once the table computes a cell (``_thaw``):
            # the mask is kept with the state, for deciders read alike (a round robin's runs
            # each asked for it, ~70 us).
            kept = shared.get("derived", {}).get("read_mask")
            if kept is not None and kept[0] == whole:
                mask: np.ndarray = kept[1]
                return mask.copy()
        keep = np.zeros((len(self.deciders), fields), np.int64)
        for d, w in enumerate(whole):
            if w:
                keep[d] = 1  # no read-set of its own: it may have read any field
        rows: list[int] = []
        cols: list[int] = []
        for d, sets in self._read_sets.items():
            if d >= len(whole):
                continue  # a restored state's decider this run has not added (yet: ``warm``)
            for rs in sets:
                rows.extend([d] * len(rs.index))
                cols.extend(rs.index)
        keep[rows, cols] = 1  # one scatter, not one per read-set
        if shared is not None:  # only a shared state keeps it (``_derived``): copy only then
            self._derived("read_mask", (whole, keep.copy()))
        return keep

    def read_mask_of(self, deciders: np.ndarray) -> np.ndarray:
        """``read_mask``'s rows of ``deciders`` alone (a kernel refreshing the deciders it filled:
        the whole mask walks every decider)."""
        fields = len(self.codec.fields)
        keep = np.zeros((len(deciders), fields), np.int64)
        rows: list[int] = []
        cols: list[int] = []  # one numpy write at the end: a write per read-set costs more than the rest
        for k, d in enumerate(np.asarray(deciders).tolist()):
            if not memoisable(self.deciders[d].policy) or self._families.batched(d):
                rows += [k] * fields
                cols += range(fields)
                continue
            for rs in self._read_sets.get(d, ()):
                rows += [k] * len(rs.index)
                cols += rs.index
        keep[rows, cols] = 1
        return keep

    def read_sets(self, decider: int) -> list[tuple[int, ...]]:
        """The distinct sets of fields (positions) that the decider's computed cells read."""
        return [rs.index for rs in self._read_sets.get(decider, ())]

    # --- cells --------------------------------------------------------------------------------
    @property
    def n_cells(self) -> int:
        return len(self._cells)

    @property
    def full(self) -> np.ndarray:
        """Per cell: the resolver's choice (an act index); rows past ``n_cells`` are spare."""
        return self._cells.arr["full"]

    @property
    def root(self) -> np.ndarray:
        """Per cell: the choice without deliberation (root principles only)."""
        return self._cells.arr["root"]

    @property
    def base(self) -> np.ndarray:
        """Per cell: its first outcome; the outcome of act ``a`` is ``base + a``."""
        return self._cells.arr["base"]

    @property
    def tier(self) -> np.ndarray:
        """Per cell: bitmask of the acts the resolver would play if the policy put them first.

        Learners (``sim.learning``) choose within it; for other policies it is the resolver's choice alone.
        """
        return self._cells.arr["tier"]

    def _cell_of(self, phase: int, decider: int, code: int, values: tuple[int, ...] | None = None) -> int:
        """The cell of a (decider, code) key the tables do not hold yet.

        A code agreeing with an earlier one on the fields that cell's computation read gets
        that cell. Only a code matching none of the decider's read-sets is computed, on a
        proxy that records its reads - unless an earlier run of the process computed it
        (``sim.cell_memo``): then its record is copied in. Language-model policies are not
        pure: always computed. ``values``: the code's field values (``ObsCodec.values``), which
        the read-sets read as they read the observation; the code is decoded only past them.
        """
        d = self.deciders[decider]
        if not memoisable(d.policy):
            return self._new_cell(phase, decider, self.codec.decode(code))
        known = self._read_sets.setdefault(decider, [])
        row = self.codec.decode(code) if values is None else values
        for rs in known:
            cell = rs.cells.get(rs.values(row))
            if cell is not None:
                return cell
        obs = row if values is None else self.codec.decode(code)
        sig = self._signature(decider)
        rec = MEMO.lookup(sig, obs) if sig is not None else None
        if rec is not None:
            cell = self._insert(d, rec)
            self._remember(known, obs, rec.read, cell)
            return cell
        seen = recording(obs)
        cell = self._new_cell(phase, decider, seen)
        read = fields_read(seen)
        index = tuple(i for i, f in enumerate(self.codec.fields) if f in read)
        if sig is not None:
            rec = self._record(cell, index)
            if rec is not None:
                MEMO.remember(sig, obs, rec)
        self._remember(known, obs, index, cell)
        return cell

    def _signature(self, decider: int) -> Hashable | None:
        """The decider's ``sim.cell_memo.signature`` (computed once); None: never remembered."""
        if decider not in self._sigs:
            d = self.deciders[decider]
            pol = self._policy_signature(d.policy)
            if pol is None:
                self._sigs[decider] = None
            else:
                # Hashed once and one object per signature in the process: the memo looks it up
                # on every miss, and equal deep tuples of dataclasses compare field by field.
                sig = _Keyed(compose_signature(pol, self._binding_part(d.binding, d.bid, d.phase)))
                self._sigs[decider] = _CANONICAL.setdefault(sig, sig)
                if len(_CANONICAL) > MAX_CANONICAL:
                    _CANONICAL.clear()
        return self._sigs[decider]

    def _policy_signature(self, policy: Any) -> Hashable | None:
        """``policy_signature``, once per policy object (kept with it, so its id is not reused):
        a policy decides in every phase, and again for every binding a script gives its group."""
        known = self._pol_sigs.get(id(policy))
        if known is None:
            known = self._pol_sigs[id(policy)] = (policy, policy_signature(policy))
        return known[1]

    def _binding_part(self, binding: Binding, bid: int, phase: int) -> tuple[Any, ...]:
        """``binding_signature`` of binding number ``bid`` in ``phase``, computed once."""
        part = self._binding_sigs.get((bid, phase))
        if part is None:
            part = self._binding_sigs[bid, phase] = binding_signature(binding, self.phases[phase], self.codec)
        return part

    def _remember(self, known: list[_ReadSet], obs: Any, index: tuple[int, ...], cell: int) -> None:
        """File ``cell`` under its read-set (field positions; created on first use) and ``obs``'s values there."""
        rs = next((r for r in known if r.index == index), None)
        if rs is None:
            rs = _ReadSet(index)
            known.append(rs)
        rs.cells[rs.values(obs)] = cell

    def _record(self, cell: int, read: tuple[int, ...]) -> CellRecord | None:
        """A table-independent record of a cell this table computed (its rows read back);
        None when its outcome rows' records are not at hand (rows restored by ``warm``)."""
        cells = self._cells.arr
        outcomes = self._out_recs.get(int(cells["base"][cell]))
        if outcomes is None:
            return None
        return CellRecord(int(cells["full"][cell]), int(cells["root"][cell]), int(cells["tier"][cell]),
                          outcomes, read)

    def _new_cell(self, phase: int, decider: int, obs: Any) -> int:
        """Compute a cell and its outcomes; ``obs`` may be a recording proxy (see ``_cell_of``)."""
        d = self.deciders[decider]
        acts = self.phases[phase]
        pure = memoisable(d.policy)
        ranking = tuple(d.policy.rank(obs, acts)) if pure else ()
        if not pure:
            return self._resolve_cell(d, obs, ranking, pure)
        # Past the policy's ranking a cell depends on nothing of the decider's policy but two
        # flags: deciders of one binding and group (a heterogeneous group's drawn variants)
        # that rank an observation alike share the cell. The shared part's reads are replayed.
        key = (d.bid, phase, d.group, unwrap(obs), ranking, reports_overrides(d.policy),
               is_learner(d.policy))
        hit = self._cell_memo.get(key)
        if hit is None:
            own = fork(obs) if is_recording(obs) else obs
            cell = self._resolve_cell(d, own, ranking, pure)
            hit = self._cell_memo[key] = (cell, fields_read(own) if own is not obs else frozenset())
        if is_recording(obs):
            note(obs, hit[1])
        return hit[0]

    def _resolve_cell(self, d: Decider, obs: Any, ranking: tuple[int, ...], pure: bool) -> int:
        """The resolver's part of a new cell: choices with and without deliberation, outcomes, tier."""
        acts = self.phases[d.phase]
        full = d.binding.decide(obs, acts, ranking)
        root = d.binding.decide(obs, acts, ranking, root_only=True)
        # Why an act other than the resolver's choice was played: a language model chose it,
        # or a rule-based agent acted on its policy alone (no deliberation) or slipped.
        by = "acted without deliberation or by error" if pure else "chosen by the language model"
        # A principle that set aside the first choice of an agent pursuing its principal's interest.
        extra = override_events(d.binding, full, acts, ranking, obs) if reports_overrides(d.policy) else ()
        base = self._outcomes_of(d, obs, full, by, extra)
        tier = tier_of(d.binding, obs, acts, ranking) if is_learner(d.policy) else 1 << full.act
        return self._cells.append(full.act, root.act, base, tier)

    def _insert(self, d: Decider, rec: CellRecord) -> int:
        """Append a remembered cell; its outcome rows are written unless a cell of this table
        replayed the same records (shared rows when computed) for the decider's group."""
        key = (d.group, id(rec.outcomes))
        base = self._rec_rows.get(key)
        if base is None or self._out_recs.get(base) is not rec.outcomes:
            base = self._rec_rows[key] = self._write_outcomes(rec.outcomes, d.group)
        return self._cells.append(rec.full, rec.root, base, rec.tier)

    # --- whole tables across runs (sim.cell_memo.TABLES) -------------------------------------
    def population_key(self) -> Hashable | None:
        """The signatures of the deciders, in order, with their phase and group; None when some
        decider has none (its cells are never remembered)."""
        if self._pop_key is not None and self._pop_key[0] == len(self.deciders):
            return self._pop_key[1]  # deciders are only ever added: the count says it is current
        key = tuple((self._signature(d), dec.phase, dec.group) for d, dec in enumerate(self.deciders))
        found = None if not key or any(k[0] is None for k in key) else _Keyed(key)
        self._pop_key = (len(self.deciders), found)
        return found

    def warm(self, sparse: bool = False) -> bool:
        """Start an empty table from the one an earlier run of the same population left.

        The cells are the same pure records the run would compute, some perhaps for keys it
        never meets: counted nowhere, they change no result (``tests/test_cell_memo.py``).
        ``sparse``: also a table whose cells live in dicts (a kernel that keeps its own
        look-up in ``marks``). The state may hold deciders that the earlier run added later
        (a scripted delegation's): their entries serve the deciders this run adds in their
        place while each has the same signature, phase and group (``_keep_ahead``).
        """
        if self.n_cells or not (sparse or self.fits_dense()):
            return False
        key = self.population_key()
        if self._origin is None:
            self._origin = key
        state = TABLES.get(key) if key is not None else None
        if state is None:
            return False
        self._restore(state)
        pop = state["pop"].key
        self._ahead = pop if len(pop) > len(self.deciders) else None
        return True

    def keep(self, sparse: bool = False) -> None:
        """Offer this table to later runs of its population (when it holds more than the kept one),
        and to runs of the population it was warmed from; ``sparse`` as for ``warm``."""
        if self._shared is not None:
            return  # still the restored state, no cell of its own: nothing more to offer
        key = self.population_key()
        if key is None or not (sparse or self.fits_dense()):
            return
        state = None
        for at in (key, self._origin) if self._origin not in (None, key) else (key,):
            kept = TABLES.get(at)
            if kept is None or kept["n_cells"] < self.n_cells:
                state = state or self._snapshot(key)
                TABLES.put(at, state)

    def _keep_ahead(self, start: int) -> None:
        """Keep a restored state's entries for the deciders added from ``start`` on while each is
        the one the state's run added at its number; drop them from the first that is not."""
        ahead = self._ahead
        assert ahead is not None
        for did in range(start, len(self.deciders)):
            if did >= len(ahead) or not self._kept_as(self.deciders[did], ahead[did]):
                self._drop_ahead(did)
                return
            self._sigs[did] = ahead[did][0]
        if len(self.deciders) >= len(ahead):
            self._ahead = None  # every decider the state holds is this table's own now

    def _kept_as(self, dec: Decider, kept: tuple[Any, int, int]) -> bool:
        """Whether ``dec`` is the decider a kept state lists as (signature, phase, group): compared
        part by part (a binding's part is one object per value in the process), not by building
        the signature, since a delegation adds a decider per drawn variant."""
        sig, phase, group = kept
        pol = self._policy_signature(dec.policy)
        return (phase == dec.phase and group == dec.group and pol is not None
                and sig.key == compose_signature(pol, self._binding_part(dec.binding, dec.bid, dec.phase)))

    def _drop_ahead(self, decider: int) -> None:
        """Drop a restored state's entries of ``decider`` and every later one (another run's)."""
        self._ahead = None
        self._thaw(0, None)
        space = self.codec.space
        for lut in self._luts:
            if lut is not None:
                lut[decider * space:] = 0
        self._cell_dicts = [{k: c for k, c in d.items() if k < decider * space} for d in self._cell_dicts]
        self._read_sets = {d: sets for d, sets in self._read_sets.items() if d < decider}
        self.marks = {}  # kernels' facts about the cells held, which may be of those deciders'

    def _snapshot(self, pop: Hashable) -> dict[str, Any]:
        # Dense tables are mostly zeros: kept as their filled entries.
        luts = [None if lut is None else (len(lut), np.flatnonzero(lut), lut[lut != 0]) for lut in self._luts]
        return {"pop": pop, "n_cells": self.n_cells, "luts": luts, "dense": [None] * len(luts), "marks": dict(self.marks),
                "cell_dicts": [dict(d) for d in self._cell_dicts],
                "read_sets": {d: [(rs.index, dict(rs.cells)) for rs in sets] for d, sets in self._read_sets.items()},
                "cells": (self._cells.n, {k: a.copy() for k, a in self._cells.arr.items()}),
                "outcomes": (self._outcomes.n, {k: a.copy() for k, a in self._outcomes.arr.items()}),
                "conflicts": list(self._outcome_conflicts),
                "comp": {k: list(v) for k, v in self._comp.cols.items()},
                "conf": {k: list(v) for k, v in self._conf.cols.items()}}

    def _restore(self, state: dict[str, Any]) -> None:
        """Read the state without copying it: every run of a population may share it until it
        computes a cell of its own (``_thaw``). Nothing here writes to the shared arrays: the
        look-ups, the kernels and the metrics only read them."""
        for ph, saved in enumerate(state["luts"]):
            if saved is not None:
                self._luts[ph] = self._dense_of(state, ph)
        self._cell_dicts = state["cell_dicts"]
        self._read_sets = state.get("read_set_objs") or state.setdefault("read_set_objs", _read_sets_of(state))
        for grow, (n, arrays) in ((self._cells, state["cells"]), (self._outcomes, state["outcomes"])):
            grow.n, grow.arr = n, arrays
        self._outcome_conflicts = state["conflicts"]
        # Arrays derived from the state, kept with it by an earlier run (``_derived``).
        derived = state.get("derived", {})
        for name, flat, cols in (("comp", self._comp, state["comp"]), ("conf", self._conf, state["conf"])):
            flat.cols, flat._arr = cols, derived.get(name)
        self._weights = derived.get("weights")
        self._matrix = derived.get("matrix")
        self.marks = dict(state["marks"])
        self._shared = state

    @staticmethod
    def _dense_of(state: dict[str, Any], phase: int) -> np.ndarray:
        """The dense table of a kept state (built once per state while small; shared, never written)."""
        lut = state["dense"][phase]
        if lut is None:
            size, idx, vals = state["luts"][phase]
            lut = np.zeros(size, dtype=np.int32)
            lut[idx] = vals
            if size <= SHARED_DENSE_LIMIT:
                # Not flagged read-only: compiled kernels would compile (or load) a second
                # variant for read-only arrays. ``_thaw`` copies it before any write.
                state["dense"][phase] = lut
        return lut

    def _thaw(self, phase: int, lut: Any) -> Any:
        """Own copies of a shared restored state before this table computes a cell; returns the
        (now writable) dense table of ``phase`` (``lut`` when there is none)."""
        state = self._shared
        if state is not None:
            self._shared = None
            for ph, shared in enumerate(self._luts):
                if shared is not None and any(shared is d for d in state["dense"]):
                    self._luts[ph] = shared.copy()
            self._cell_dicts = [dict(d) for d in state["cell_dicts"]]
            self._read_sets = _read_sets_of(state)
            for grow, (n, arrays) in ((self._cells, state["cells"]), (self._outcomes, state["outcomes"])):
                grow.n, grow.arr = n, {k: a.copy() for k, a in arrays.items()}
            self._outcome_conflicts = list(state["conflicts"])
            for flat, cols in ((self._comp, state["comp"]), (self._conf, state["conf"])):
                flat.cols, flat._arr = {k: list(v) for k, v in cols.items()}, None
        own = self._luts[phase]
        return lut if own is None else own

    # --- outcomes -----------------------------------------------------------------------------
    def _outcomes_of(self, d: Decider, obs: Any, full: Any, by: str,
                     extra: tuple[ConflictEvent, ...]) -> int:
        """The first of a cell's outcome rows (one per act), written only if no cell wrote them.

        A cell's outcomes depend on the binding, the phase, the group, the observation,
        the resolver's choice (act, verdicts, conflicts), ``by`` and ``extra``, not on the
        policy beyond them: agents of a heterogeneous group (one decider per drawn
        variant) meeting the same observation share one set of rows instead of each
        evaluating every check on every act again. On a recording proxy the fields the
        outcome checks read are replayed, so the cell's read-set is the same either way.
        """
        key = (d.bid, d.phase, d.group, unwrap(obs), full.act, full.verdicts, full.conflicts,
               by, extra)
        hit = self._outcome_memo.get(key)
        if hit is None:
            own = fork(obs) if is_recording(obs) else obs
            acts = self.phases[d.phase]
            applies = self._applies_of(d)
            recs = tuple(self._outcome(d.binding, own, acts, a, full, by, applies,
                                       extra if a == full.act else ())
                         for a in range(len(acts)))
            base = self._write_outcomes(recs, d.group)
            hit = self._outcome_memo[key] = (base, fields_read(own) if own is not obs else frozenset())
        if is_recording(obs):
            note(obs, hit[1])
        return hit[0]

    def _write_outcomes(self, recs: tuple[OutcomeRecord, ...], group: int) -> int:
        """Append one outcome row per record; returns the first."""
        base = len(self._outcomes)
        for out in recs:
            oid = len(self._outcomes)
            for pid, held, level in out.comp:
                if pid in self._pidx:
                    self._comp.append(outcome=oid, principle=self._pidx[pid], held=held, level=level)
            for pair in out.conf:
                self._conf.append(outcome=oid, pair=pair)
            # In the order of OUTCOME_COLUMNS.
            self._outcomes.append(out.nconf, out.violation, out.deception, out.covert, out.coop,
                                  out.injected, group)
            self._outcome_conflicts.append(out.conflicts)
        self._out_recs[base] = recs
        return base

    def _applies_of(self, d: Decider) -> tuple[bool, ...]:
        """Per constraint of the decider's binding: whether its check can say anything in its phase."""
        key = (d.bid, d.phase)
        out = self._applies.get(key)
        if out is None:
            acts = self.phases[d.phase]
            out = self._applies[key] = tuple(
                c.check is not None and applies_to(c.check, c.params, acts) for c in d.binding.constraints)
        return out

    @staticmethod
    def _outcome(binding: Binding, obs: Any, acts: ActSpace, a: int, full: Any, by: str,
                 applies: tuple[bool, ...], extra: tuple[ConflictEvent, ...] = ()) -> OutcomeRecord:
        act = acts[a]
        if a == full.act:
            verdicts = full.verdicts
            conflicts = full.conflicts + extra
        else:
            verdicts = tuple(
                evaluate(c.check, c.params, obs, act) if ok else None
                for c, ok in zip(binding.constraints, applies, strict=True)
            )
            chosen = acts[full.act].name
            conflicts = tuple(
                ConflictEvent(None, None, None, c.id, c.level, c.source, act.name,
                              f"{by}; the chain of command chose {chosen!r}")
                for c, v in zip(binding.constraints, verdicts, strict=True) if v is False
            )
        violation = any(v is False and c.level >= Level.SYSTEM
                        for c, v in zip(binding.constraints, verdicts, strict=True))
        comp = tuple((c.id, int(v), int(c.level))
                     for c, v in zip(binding.constraints, verdicts, strict=True)
                     if v is not None and c.kind == "principle")
        conf = tuple((int(ev.winner_level) if ev.winner_level is not None else 0) * LEVELS + int(ev.loser_level)
                     for ev in conflicts)
        return OutcomeRecord(
            nconf=len(conflicts), violation=int(violation), deception=int(act.deceptive),
            covert=int(act.covert), coop=-1 if act.cooperative is None else int(act.cooperative),
            injected=int(act.serves_injection), comp=comp, conf=conf, conflicts=conflicts,
        )

    @property
    def n_outcomes(self) -> int:
        return len(self._outcomes)

    def outcome_column(self, name: str) -> np.ndarray:
        """One of ``OUTCOME_COLUMNS`` per outcome; rows past ``n_outcomes`` are spare zeros."""
        return self._outcomes.arr[name]

    def count_weights(self, n: int) -> np.ndarray:
        """(n, 8) weights of the first ``n`` outcomes for ``sim.metrics.decision_sums``: one,
        ``nconf``, violation, deception, covert, cooperative move, move, injected. Kept while the
        outcome arrays are the same (rows are only ever appended, so the first ``n`` stay)."""
        arr = self._outcomes.arr
        kept = self._weights
        if kept is None or kept[0] != n or kept[1] is not arr:
            coop = arr["coop"][:n]
            cols = (np.ones(n), arr["nconf"][:n], arr["violation"][:n], arr["deception"][:n],
                    arr["covert"][:n], coop == 1, coop >= 0, arr["injected"][:n])
            kept = self._weights = (n, arr, np.stack([np.asarray(c, dtype=np.float64) for c in cols], axis=1))
            self._derived("weights", kept)
        return kept[2]

    def count_matrix(self, n: int) -> np.ndarray:
        """(n, 8 + 2P) weights of the first ``n`` outcomes: ``count_weights``' columns, then per
        principle (P of them) the decisions in which it applied, then those in which it held.

        One product of a stretch's (K, n) outcome counts with it gives every decision and
        compliance sum of ``sim.metrics.make_view``: the weights and counts are small integers,
        so each sum is exact whatever the order of its terms. Kept while the outcomes, their
        verdicts and the principles are the same (and with a kept table, across runs)."""
        arr = self._outcomes.arr
        comp = self.compliance_rows()
        p = len(self.principle_ids)
        kept = self._matrix
        if kept is None or kept[0] is not arr or kept[1] is not comp or kept[2] != p or len(kept[3]) != n:
            m = np.zeros((n, 8 + 2 * p))
            coop = arr["coop"][:n]
            for c, col in enumerate((1.0, arr["nconf"][:n], arr["violation"][:n], arr["deception"][:n],
                                     arr["covert"][:n], coop == 1, coop >= 0, arr["injected"][:n])):
                m[:, c] = col  # ``count_weights``' columns
            at = comp["outcome"] < n
            if p and at.any():
                idx = comp["outcome"][at] * p + comp["principle"][at]
                m[:, 8:8 + p] = np.bincount(idx, minlength=n * p).reshape(n, p)
                m[:, 8 + p:] = np.bincount(idx, weights=comp["held"][at], minlength=n * p).reshape(n, p)
            kept = self._matrix = (arr, comp, p, m)
            self._derived("matrix", kept)
        return kept[3]

    def _derived(self, name: str, value: Any) -> None:
        """Keep an array derived from a restored state with that state, for its later runs: while
        the table still shares it (no cell of its own yet), the state is what the array reads."""
        if self._shared is not None:
            self._shared.setdefault("derived", {})[name] = value

    def shared_memo(self, name: str) -> dict[Hashable, Any] | None:
        """A dict kept with the restored state this table still shares, for what a kernel
        computes from that state's cells alone (``scenarios.ipd_replays``); None once the
        table computed a cell of its own, or was never restored."""
        if self._shared is None:
            return None
        memos: dict[str, dict[Hashable, Any]] = self._shared.setdefault("memos", {})
        return memos.setdefault(name, {})

    def conflicts(self, outcome: int) -> tuple[ConflictEvent, ...]:
        """The conflict events an outcome logs."""
        return self._outcome_conflicts[outcome]

    def compliance_rows(self) -> dict[str, np.ndarray]:
        """(outcome, principle, held): each outcome's verdict on each principle that applied."""
        got = self._comp.arrays()
        self._derived("comp", got)
        return got

    def level_rows(self) -> dict[str, np.ndarray]:
        """(outcome, pair): each conflict of an outcome, pair = winner level x LEVELS + loser level."""
        got = self._conf.arrays()
        self._derived("conf", got)
        return got


def batch_names(cls: Any) -> tuple[str, ...]:
    """The attributes a class's ``rank_batch`` reads: ``batch_attrs``, else its parameter names."""
    return tuple(getattr(cls, "batch_attrs", None) or getattr(cls, "params", {}))


class _Family:
    """Deciders ranked together: one binding, phase, group and policy class (``rank_batch``).

    Past the policy's ranking a cell depends only on the fields the resolver read (see
    ``DecisionTable._new_cell``), so a family files its cells by (those fields' values,
    ranking) in read-sets, as a decider files its own: a step's keys are then resolved in
    numpy whatever the number of variants, and only a new (read values, ranking) goes
    through Python.
    """

    def __init__(self, cls: Any, acts: ActSpace) -> None:
        self.cls = cls
        self.acts = acts
        self.names = batch_names(cls)
        self.row: dict[int, int] = {}  # decider -> row of the parameter columns
        self._params: list[list[float]] = []
        self._cols: dict[str, np.ndarray] | None = None
        self._rows = np.zeros(0, dtype=np.int64)  # decider -> row (-1: not a member)
        self.rankings: list[tuple[int, ...]] = []
        self.rid: dict[tuple[int, ...], int] = {}
        self.want_rid: dict[int, int] = {}
        self.read_sets: list[tuple[tuple[int, ...], dict[int, int]]] = []

    def add(self, decider: int, policy: Any) -> None:
        self.row[decider] = len(self._params)
        own = vars(policy)
        self._params.append([float(own[k] if k in own else getattr(policy, k)) for k in self.names])
        self._cols = None

    def params(self, deciders: np.ndarray) -> dict[str, np.ndarray]:
        if self._cols is None:
            table = np.asarray(self._params, dtype=np.float64).reshape(len(self._params), len(self.names))
            self._cols = {k: table[:, i] for i, k in enumerate(self.names)}
            self._rows = np.full(max(self.row) + 1, -1, dtype=np.int64)
            self._rows[list(self.row)] = list(self.row.values())
        rows = self._rows[deciders]
        return {k: v[rows] for k, v in self._cols.items()}

    def ranking_id(self, want: int, order: Callable[[int], tuple[int, ...]]) -> int:
        rid = self.want_rid.get(want)
        if rid is None:
            ranking = tuple(order(want))
            rid = self.rid.setdefault(ranking, len(self.rankings))
            if rid == len(self.rankings):
                self.rankings.append(ranking)
            self.want_rid[want] = rid
        return rid


#: Bits of a family read-set key that hold the ranking's number.
_RID_BITS = RID_BITS
#: Ranking numbers below this are told apart by counting (``np.bincount``), not by sorting.
_COUNTED = 1 << 16


class _Families:
    """Batch-ranked deciders of a table, by family (see ``_Family``).

    A decider joins a family when its policy is pure, not a learner, and its class has a
    ``rank_batch`` (a numpy ``rank`` over many variants and observations) reproducing its
    ``rank`` (``rank_batch_of is rank``), which applies to the phase's acts. Decisions of a
    family's deciders are identical to those of the per-key path: the same cells (by the
    same memo key), reached without a per-key Python call.
    """

    def __init__(self) -> None:
        self.fam = np.zeros(0, dtype=np.int64)  # per decider: family, -1 none
        self.families: list[_Family] = []
        self._by_key: dict[tuple[Any, ...], int] = {}
        self.profiles: dict[int, Profiles] = {}  # family -> its deciders' ranking profiles (profile)
        self.unprofiled: set[int] = set()  # families found not worth profiling

    def batched(self, decider: int) -> bool:
        return decider < len(self.fam) and self.fam[decider] >= 0

    def of(self, table: DecisionTable, deciders: np.ndarray) -> np.ndarray | None:
        """Each decider's family (-1 none); None when no decider of the table has one."""
        if len(self.fam) < len(table.deciders):
            self._extend(table)
        if not self.families:
            return None
        return self.fam[deciders]

    def _extend(self, table: DecisionTable) -> None:
        start = len(self.fam)
        self.fam = np.concatenate([self.fam, np.full(len(table.deciders) - start, -1, dtype=np.int64)])
        if table.codec.space >= 1 << (62 - _RID_BITS):
            return  # read-set keys would not fit an int64
        classes: dict[type, bool] = {}
        for did in range(start, len(table.deciders)):
            d = table.deciders[did]
            cls: Any = type(d.policy)
            ok = classes.get(cls)
            if ok is None:
                ok = classes[cls] = getattr(cls, "rank_batch_of", None) is getattr(cls, "rank", None)
            if not ok or not memoisable(d.policy) or is_learner(d.policy) or "rank" in vars(d.policy):
                continue
            key = (d.bid, d.phase, d.group, reports_overrides(d.policy), cls)
            f = self._by_key.get(key)
            if f is None:
                acts = table.phases[d.phase]
                empty = {k: np.zeros(0, dtype=np.int64) for k in table.codec.fields}
                params = {k: np.zeros(0) for k in batch_names(cls)}
                if cls.rank_batch(params, empty, acts) is None:
                    f = -1
                else:
                    f = len(self.families)
                    self.families.append(_Family(cls, acts))
                self._by_key[key] = f
            if f >= 0:
                self.families[f].add(did, d.policy)
            self.fam[did] = f

    def profile(self, table: DecisionTable) -> bool:
        """Profile every family's deciders not yet profiled (``sim.family_profiles``), where the
        fields its ranking reads take few enough values; whether every decider now has profiles."""
        self.of(table, np.zeros(0, dtype=np.int64))
        every = bool(len(self.fam)) and bool((self.fam >= 0).all())
        for f, fam in enumerate(self.families):
            prof = self.profiles.get(f)
            if f in self.unprofiled:
                every = False
                continue
            if prof is None:
                index = ranked_fields(fam, table.codec)
                if int(np.prod([table.codec.card[i] for i in index])) > MAX_VALUES:
                    self.unprofiled.add(f)
                    every = False
                    continue
                prof = self.profiles[f] = Profiles(index, table.codec)
            members = np.array(sorted(fam.row), dtype=np.int64)
            done = np.zeros(len(members), dtype=bool)
            inside = members < len(prof.profile)
            done[inside] = prof.profile[members[inside]] >= 0
            if not done.all():
                prof.add(fam, members[~done])
            prof.refresh(fam)  # the cells a kept table brought (``warm_families``)
            if prof.direct is None:  # too many profiles to gain anything: ranked per key
                del self.profiles[f]
                self.unprofiled.add(f)
                every = False
        return every

    def cells(self, table: DecisionTable, f: int, phase: int, deciders: np.ndarray, codes: np.ndarray) -> np.ndarray:
        """The cells of keys of family ``f``: through its profiles where it has them, else ranked."""
        prof = self.profiles.get(f)
        if prof is None:
            return self._ranked(table, f, phase, deciders, codes)
        return prof.cells(self.families[f], deciders, codes, lambda d, c: self._ranked(table, f, phase, d, c),
                          lambda d, c, r: self.filed(table, f, d, c, r))

    def _ranked(self, table: DecisionTable, f: int, phase: int, deciders: np.ndarray, codes: np.ndarray) -> np.ndarray:
        """The cells of keys of family ``f``: ranked in numpy, filed by read fields and ranking."""
        fam = self.families[f]
        codec = table.codec
        fields = {name: (codes // r) % c - off
                  for name, r, c, off in zip(codec.fields, codec.radix, codec.card, codec.offset, strict=True)}
        want, order = fam.cls.rank_batch(fam.params(deciders), fields, fam.acts)
        if len(want) and want.min() >= 0 and want.max() < _COUNTED:
            # Rankings of a few acts are small numbers: counted and looked up, not sorted.
            uw = np.flatnonzero(np.bincount(want))
            of = np.zeros(int(uw[-1]) + 1, dtype=np.int64)
            of[uw] = [fam.ranking_id(w, order) for w in uw.tolist()]
            rid = of[want]
        else:
            uw, winv = unique_inverse(want)
            rid = np.array([fam.ranking_id(w, order) for w in uw.tolist()], dtype=np.int64)[winv]
        return self.filed(table, f, deciders, codes, rid, fields)

    def filed(self, table: DecisionTable, f: int, deciders: np.ndarray, codes: np.ndarray, rid: np.ndarray,
              fields: dict[str, np.ndarray] | None = None) -> np.ndarray:
        """The cells of keys of family ``f`` whose rankings (``rid``) are known: found in its filings,
        a (read values, ranking) never met computed and filed. ``fields``: the codes decoded."""
        fam = self.families[f]
        codec = table.codec
        if fields is None:
            fields = {name: (codes // r) % c - off
                      for name, r, c, off in zip(codec.fields, codec.radix, codec.card, codec.offset, strict=True)}
        out = np.full(len(codes), -1, dtype=np.int64)
        todo = np.arange(len(codes))
        values = [fields[name] for name in codec.fields]
        pending = list(fam.read_sets)
        while len(todo):
            for index, filed in pending:
                sub = np.zeros(len(todo), dtype=np.int64)
                for i in index:
                    sub = sub * codec.card[i] + values[i][todo] + codec.offset[i]
                uniq, inv = unique_inverse((sub << _RID_BITS) | rid[todo])
                found = np.array([filed.get(k, -1) for k in uniq.tolist()], dtype=np.int64)[inv]
                hit = found >= 0
                out[todo[hit]] = found[hit]
                todo = todo[~hit]
                if not len(todo):
                    break
            if not len(todo):
                break
            # A (read values, ranking) never met: computed for the first such key and filed;
            # only its read-set has anything new for the keys left.
            k = int(todo[0])
            r = int(rid[k])
            if r >= 1 << _RID_BITS:
                raise OverflowError("more rankings than a family read-set key holds")
            d = table.deciders[int(deciders[k])]
            cell, read = table.family_cell(d, codec.decode(int(codes[k])), fam.rankings[r])
            index = tuple(i for i, name in enumerate(codec.fields) if name in read)
            known = next((fl for ix, fl in fam.read_sets if ix == index), None)
            filed = {} if known is None else known
            if known is None:
                fam.read_sets.append((index, filed))
            sub_k = 0
            for i in index:
                sub_k = sub_k * codec.card[i] + int(values[i][k]) + codec.offset[i]
            filed[(sub_k << _RID_BITS) | r] = cell
            pending = [(index, filed)]
        return out
