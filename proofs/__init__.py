"""Z3 encodings of the specs and their proof obligations.

- ``logic``: a small first-order logic; every formula of a proof is written
  in it once, then read by Z3, by a Python evaluator and by a printer;
- ``model``: what a proof model is (sorts, relations, actions, an inductive
  invariant, a safety property); the engines below take any model;
- ``paxos``: Paxos.tla for every size, its inductive invariant, and the bug
  gallery's variants; ``concrete``: states of ``spec/paxos.py`` as finite
  structures and back (Paxos's executable twin);
- ``multipaxos``: Multi-Paxos as a multi-instance voting model (per-slot
  agreement for every number of replicas, ballots and slots), its gallery
  variants, and the mapping of ``spec/multipaxos.py``'s states into it;
- ``smt``: formulas to Z3 (as SMT-LIB text) and one solver run per query;
- ``obligations``: initiation, consecution per action and conjunct, safety;
  ``prove(model)`` discharges them one by one;
- ``cti``: counterexamples to induction, from small finite universes to states
  of the model's executable twin, with the explorer's verdict on reachability;
- ``finite``: a model on finite universes (its actions on structures, the
  model itself run as a spec);
- ``crosscheck``: a proof model against its executable spec, state by state
  and step by step (``z3eval``: Z3 itself as the evaluator, on samples);
- ``houdini``: invariant inference from templates (stretch);
- ``report``: the proof report as text, JSON, JUnit, charts, and --explain.

Importing this package imports nothing; ``report``, ``crosscheck``,
``finite`` and ``concrete`` do not import z3.
"""
