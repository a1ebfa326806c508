"""``specbound check MODULE``: the conformance kit on everything a plugin registers.

Each environment, policy, check and metric the plugin adds goes through
``sim.testing`` (determinism per seed, welfare bounds, act spaces, purity of
policies, checks that say when they do not apply, metrics equal on fused and
stepped runs). One line per item; exit 1 when any fails, 2 when the plugin
cannot be loaded or registers nothing.
"""

from __future__ import annotations

import argparse
import json
from typing import Any

from agents.errors import SpecboundError


def register(sub: Any) -> None:
    p = sub.add_parser("check", help="run the conformance kit on what a plugin registers")
    p.add_argument("module", metavar="MODULE", help="plugin module name, .py file or package folder")
    p.add_argument("--json", action="store_true", help="one JSON object per item")
    p.set_defaults(func=_check)


def _check(args: argparse.Namespace) -> int:
    from sim.plugins import load_plugin
    from sim.testing import check_plugin

    plugin = load_plugin(args.module, "check")
    registered = plugin.registered()
    if not any(registered[k] for k in ("environments", "policies", "checks", "metrics", "spec_folders")):
        raise SpecboundError(f"check {args.module}: the plugin registers nothing "
                             "(no @environment, @policy, @check, @metric or spec_folder ran on import)")
    results = check_plugin(registered)
    results += [("spec folder", f, None) for f in registered["spec_folders"]]
    failed = 0
    for kind, name, problem in results:
        failed += problem is not None
        if args.json:
            print(json.dumps({"kind": kind, "name": name, "ok": problem is None, "problem": problem}))
        else:
            print(f"{'ok  ' if problem is None else 'FAIL'} {kind} {name}" + (f": {problem}" if problem else ""))
    if not args.json:
        print(f"{len(results) - failed} of {len(results)} passed")
    return 1 if failed else 0
