"""Recording observation proxies, and the resolver's memo on them (agents/readset.py, chain.py)."""

from __future__ import annotations

import operator
from collections import namedtuple
from typing import Any

import pytest

from agents.acts import Act, ActSpace
from agents.chain import Binding
from agents.readset import fields_read, fork, note, recording, unwrap
from agents.spec import Level, Principle, Spec

Obs = namedtuple("Obs", "asked trust coin")
OBS = Obs(asked=1, trust=7, coin=3)
ALL = frozenset(Obs._fields)


# --- the proxy ------------------------------------------------------------------------------


def test_reading_a_field_records_only_that_field() -> None:
    seen = recording(OBS)
    assert seen.trust == 7
    assert fields_read(seen) == {"trust"}


def test_unknown_attribute_raises_and_records_nothing() -> None:
    seen = recording(OBS)
    with pytest.raises(AttributeError):
        _ = seen.others_overused
    assert getattr(seen, "others_overused", 0) == 0
    assert not hasattr(seen, "max_take")
    assert fields_read(seen) == frozenset()


@pytest.mark.parametrize(
    "use",
    [
        pytest.param(lambda o: list(o), id="iter"),
        pytest.param(lambda o: o[1], id="index"),
        pytest.param(lambda o: o[:1], id="slice"),
        pytest.param(lambda o: hash(o), id="hash"),
        pytest.param(lambda o: o == OBS, id="eq"),
        pytest.param(lambda o: operator.eq(OBS, o), id="eq-reflected"),
        pytest.param(lambda o: o < OBS, id="order"),
        pytest.param(lambda o: repr(o), id="repr"),
        pytest.param(lambda o: f"{o}", id="format"),
        pytest.param(lambda o: 7 in o, id="contains"),
        pytest.param(lambda o: o._asdict(), id="asdict"),
        pytest.param(lambda o: o._replace(coin=0), id="replace"),
        pytest.param(lambda o: o.count(7), id="count"),
        pytest.param(lambda o: (*o,), id="unpack"),
    ],
)
def test_whole_observation_uses_record_every_field(use: Any) -> None:
    seen = recording(OBS)
    use(seen)
    assert fields_read(seen) == ALL


def test_whole_observation_uses_answer_as_the_real_one() -> None:
    seen = recording(OBS)
    assert seen == OBS and hash(seen) == hash(OBS) and repr(seen) == repr(OBS)
    assert list(seen) == list(OBS) and seen._asdict() == OBS._asdict()
    assert seen._replace(coin=0) == OBS._replace(coin=0)


def test_type_questions_read_no_value() -> None:
    seen = recording(OBS)
    assert isinstance(seen, Obs) and isinstance(seen, tuple)
    assert seen._fields == Obs._fields
    assert bool(seen)
    assert fields_read(seen) == frozenset()


def test_unwrap_fork_and_note() -> None:
    seen = recording(OBS)
    assert unwrap(seen) is OBS and unwrap(OBS) is OBS
    part = fork(seen)
    _ = part.coin
    assert fields_read(part) == {"coin"} and fields_read(seen) == frozenset()
    note(seen, fields_read(part))
    assert fields_read(seen) == {"coin"}


# --- the resolver's memo ------------------------------------------------------------------------

ACTS = ActSpace([Act("answer"), Act("refuse", refuses=True)])


def _binding() -> Binding:
    # `answers` reads `asked`; `truthful` reads nothing of the observation.
    principles = (
        Principle("answer", Level.USER, "answer", "answers"),
        Principle("honest", Level.ROOT, "honest", "truthful"),
    )
    return Binding(Spec("s", principles=principles, layers=("s",)))


def test_memo_hit_replays_the_reads_of_the_entry() -> None:
    b = _binding()
    first, again = recording(OBS), recording(OBS)
    d1 = b.decide(first, ACTS, (1, 0))
    d2 = b.decide(again, ACTS, (1, 0))
    assert d1 is d2 and d1.act == 0
    assert fields_read(first) == fields_read(again) == {"asked"}


def test_entry_made_without_a_proxy_still_reports_its_reads() -> None:
    b = _binding()
    plain = b.decide(OBS, ACTS, (1, 0))
    seen = recording(OBS)
    assert b.decide(seen, ACTS, (1, 0)) is plain
    assert fields_read(seen) == {"asked"}


def test_memo_keys_and_decisions_hold_the_real_observation() -> None:
    b = _binding()
    d = b.decide(recording(OBS), ACTS, (1, 0))
    root = b.decide(recording(OBS), ACTS, (1, 0), root_only=True)
    assert type(d.obs) is Obs and type(root.obs) is Obs
    for table in b._tables.values():
        assert all(type(key[0]) is Obs for key in table.memo)
    assert "answer" in b.explain(d, ACTS)


def test_root_only_reads_only_what_root_checks_read() -> None:
    seen = recording(OBS)
    _binding().decide(seen, ACTS, (1, 0), root_only=True)
    assert fields_read(seen) == frozenset()
