"""Keep numpy off its AVX-512 loops, so results agree to the last bit across machines.

numpy picks its ufunc loops by the CPU it finds at import. On AVX-512 machines
float64 ``exp``, ``log``, ``power`` and their kin run vectorised approximations
that can differ from the other machines' loops in the last bit (a seeded run of
commons-newcomer, whose regrowth goes through ``np.exp``, ended with harvest
1021.571721862216 on one machine and 1021.5717218622161 on another). Disabling
the AVX-512 groups before numpy loads makes every x86 machine take the same
AVX2-or-older loops. It only works before numpy is imported: a program that
imported numpy first keeps the loops it got (the docs say so).
"""

from __future__ import annotations

import os
import sys

#: numpy >= 2.4 groups its dispatched x86 features by level; these are the AVX-512 ones.
AVX512_GROUPS = "X86_V4 AVX512_ICL AVX512_SPR"
VARIABLE = "NPY_DISABLE_CPU_FEATURES"


def pin() -> None:
    """Disable numpy's AVX-512 loops if numpy is not loaded yet.

    A value the user set is kept (it is theirs to choose), and so is a numpy already loaded.
    """
    if "numpy" not in sys.modules:
        os.environ.setdefault(VARIABLE, AVX512_GROUPS)
