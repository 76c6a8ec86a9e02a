"""Z3 encodings of the specs and their proof obligations."""
