"""Excel-side pieces: the template builder (and, later, ribbon macros and VBA sources)."""
