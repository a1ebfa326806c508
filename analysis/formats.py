"""File types ``save_figure`` writes, by extension (light: the command line validates with it)."""

FORMATS = ("png", "svg", "pdf")
