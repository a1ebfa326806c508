"""Produce tests/data/axelrod_goldens.json from the axelrod library itself.

Why: specbound's rule-based prisoner's dilemma policies must reproduce the
classic strategies exactly, and the only trustworthy oracle for "exactly" is
the reference implementation. This script is NOT imported by the project and
axelrod is not a runtime dependency; run it in a throwaway virtualenv:

    /root/.pyenv/versions/3.12.1/bin/python3 -m venv /tmp/axl-venv
    /tmp/axl-venv/bin/pip install axelrod==4.13.0 'setuptools<81' pyarrow
    cd /tmp && /tmp/axl-venv/bin/python /work/main/tools/axelrod_goldens.py \
        -o /work/main/tests/data/axelrod_goldens.json

Run it from a directory other than ``tools/``'s parent packages: axelrod's
strategy module ``cycler.py`` must not shadow matplotlib's ``cycler``
dependency, so do not run it with ``axelrod/strategies`` as the working
directory.

What it records (all play is deterministic: no noise, no seeds involved):

* ``strategies``: per strategy, the axelrod class and display name, its memory
  depth, the first move, and its first 20 moves against an unconditional
  cooperator and an unconditional defector (the behaviour facts tests state).
* ``matches``: for every ordered pair (self-pairs included) the first 10 moves
  of each side and the match totals over 10 and 200 turns.
* ``tournament``: ``axelrod.Tournament`` over the 12 strategies, 200 turns,
  one repetition. axelrod *plays* each strategy against a copy of itself but
  *excludes* those self-interactions from ``ResultSet.scores``; both views are
  stored and named.
"""

from __future__ import annotations

import argparse
import json
import sys
import warnings
from pathlib import Path

# axelrod 4.13 imports pkg_resources and warns about optional extras on import;
# the warnings are noise for a golden generator.
warnings.simplefilter("ignore")

import axelrod as axl  # noqa: E402

# The strategy mapping is the project's (bench/peer_axelrod.py), so the goldens
# and the benchmark peer can never disagree on which class a name means.
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from bench.peer_axelrod import STRATEGIES  # noqa: E402

#: The four goldens quoted in the benchmark issue; the script refuses to write
#: a file that contradicts them.
ISSUE_GOLDENS: dict[tuple[str, str, int], tuple[int, int]] = {
    ("tit_for_tat", "defector", 10): (9, 14),
    ("tit_for_tat", "alternator", 10): (23, 28),
    ("cooperator", "defector", 200): (0, 1000),
    ("win_stay_lose_shift", "alternator", 200): (450, 450),
}

SHORT_TURNS = 10
LONG_TURNS = 200
FACT_TURNS = 20


def make(name: str) -> axl.Player:
    """A fresh axelrod player for a specbound strategy name."""
    return getattr(axl, STRATEGIES[name])()


def play(first: axl.Player, second: axl.Player, turns: int) -> tuple[list, tuple[int, int]]:
    """Play one match; return the list of (first, second) actions and the totals."""
    match = axl.Match((first, second), turns=turns)
    actions = match.play()
    a, b = match.final_score()
    return actions, (int(a), int(b))


def moves(actions: list, side: int) -> str:
    """One side's moves as a string of C and D."""
    return "".join(str(pair[side]) for pair in actions)


def strategy_facts() -> dict[str, dict]:
    """Per-strategy behaviour facts against the two unconditional players."""
    facts: dict[str, dict] = {}
    for name, cls in STRATEGIES.items():
        vs_c, _ = play(make(name), axl.Cooperator(), FACT_TURNS)
        vs_d, _ = play(make(name), axl.Defector(), FACT_TURNS)
        player = make(name)
        depth = player.classifier["memory_depth"]
        facts[name] = {
            "axelrod_class": cls,
            "axelrod_name": player.name,
            # JSON has no infinity: null means unbounded memory (Grudger).
            "memory_depth": None if depth == float("inf") else int(depth),
            "stochastic": player.classifier["stochastic"],
            "first_move": moves(vs_c, 0)[0],
            "vs_cooperator_20": moves(vs_c, 0),
            "vs_defector_20": moves(vs_d, 0),
        }
    return facts


def pair_matches() -> dict[str, dict[str, dict]]:
    """matches[first][second]: moves and totals for every ordered pair."""
    out: dict[str, dict[str, dict]] = {}
    for first in STRATEGIES:
        row: dict[str, dict] = {}
        for second in STRATEGIES:
            short, score_short = play(make(first), make(second), SHORT_TURNS)
            long, score_long = play(make(first), make(second), LONG_TURNS)
            # The strategies ignore the match length, so the opening of the long
            # match must be the short match; a difference would make the moves
            # below ambiguous.
            assert long[:SHORT_TURNS] == short, (first, second)
            row[second] = {
                "moves_10": [moves(short, 0), moves(short, 1)],
                "score_10": list(score_short),
                "score_200": list(score_long),
            }
        out[first] = row
    return out


def tournament(matches: dict[str, dict[str, dict]]) -> dict:
    """The round robin, as axelrod reports it and as distinct-opponent totals."""
    names = list(STRATEGIES)
    players = [make(n) for n in names]
    result = axl.Tournament(players, turns=LONG_TURNS, repetitions=1).play(
        progress_bar=False
    )
    reported = {n: int(result.scores[i][0]) for i, n in enumerate(names)}
    distinct = {
        n: sum(matches[n][m]["score_200"][0] for m in names if m != n) for n in names
    }
    self_play = {n: matches[n][n]["score_200"][0] for n in names}
    if reported != distinct:
        raise SystemExit(f"axelrod's scores {reported} differ from distinct totals {distinct}")
    ranking = [names[i] for i in result.ranking]
    return {
        "turns": LONG_TURNS,
        "repetitions": 1,
        "noise": 0.0,
        "matches_played": int(result.num_players * (result.num_players + 1) // 2),
        "self_interactions_played": True,
        "note": (
            "axelrod.Tournament plays n(n+1)/2 matches including each player against a "
            "copy of itself, but ResultSet.scores sums only matches against distinct "
            "opponents. totals_distinct_opponents is our sum of matches[p][q].score_200[0] "
            "over q != p; axelrod_reported_scores is ResultSet.scores; they are equal. "
            "totals_including_self adds the self-play match score of the player's side 0."
        ),
        "axelrod_reported_scores": reported,
        "totals_distinct_opponents": distinct,
        "self_play_score": self_play,
        "totals_including_self": {n: distinct[n] + self_play[n] for n in names},
        "axelrod_ranking": ranking,
    }


def verify_issue(matches: dict[str, dict[str, dict]]) -> None:
    """Stop if the recorded totals contradict the figures quoted in the issue."""
    for (first, second, turns), expected in ISSUE_GOLDENS.items():
        got = tuple(matches[first][second][f"score_{turns}"])
        if got != expected:
            raise SystemExit(f"{first} vs {second} over {turns}: got {got}, issue says {expected}")


def build() -> dict:
    """The whole golden document."""
    matches = pair_matches()
    verify_issue(matches)
    return {
        "meta": {
            "axelrod_version": axl.__version__,
            "generated_by": "tools/axelrod_goldens.py",
            "game": {"R": 3, "S": 0, "T": 5, "P": 1},
            "score_order": "[first player, second player] of matches[first][second]",
            "memory_depth_null": "unbounded memory",
        },
        "strategies": strategy_facts(),
        "matches": matches,
        "tournament": tournament(matches),
    }


def main() -> None:
    """Write the golden file."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-o", "--out", type=Path, default=Path("tests/data/axelrod_goldens.json"))
    args = parser.parse_args()
    args.out.parent.mkdir(parents=True, exist_ok=True)
    text = json.dumps(build(), sort_keys=True, indent=1) + "\n"
    args.out.write_text(text, encoding="utf-8")
    print(f"wrote {args.out} ({len(text)} bytes)")


if __name__ == "__main__":
    main()
