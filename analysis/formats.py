"""File types ``save_figure`` writes, by extension (light: the command line validates with it)."""

FORMATS = ("png", "svg", "pdf")

#: Figures of an eval folder (analysis.evals), offered by ``plot --kind``.
EVAL_KINDS = ("eval-heatmap", "eval-principles", "eval-effort")
