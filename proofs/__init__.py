"""Z3 encodings of the specs and their proof obligations.

- ``logic``: a small first-order logic; every formula of the proof is written
  in it once, then read by Z3, by a Python evaluator and by a printer;
- ``paxos``: Paxos.tla for every size (sorts, relations, axioms, actions), its
  inductive invariant, and the bug gallery's variants;
- ``smt``: formulas to Z3 (as SMT-LIB text) and one solver run per query;
- ``obligations``: initiation, consecution per action and conjunct, safety;
  ``prove(model)`` discharges them one by one;
- ``cti``: counterexamples to induction, from small finite universes to states
  of the executable spec, with the explorer's verdict on reachability;
- ``concrete``: states of ``spec/paxos.py`` as finite structures and back;
- ``crosscheck``: the proof model against the executable spec, state by state
  and step by step (``z3eval``: Z3 itself as the evaluator, on samples);
- ``houdini``: invariant inference from templates (stretch);
- ``cli``: ``paxoscope prove``.

Importing this package imports nothing; ``cli``, ``crosscheck`` and
``concrete`` do not import z3.
"""
