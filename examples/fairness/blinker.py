"""Weak and strong fairness, told apart by the smallest spec that needs the difference.

A light blinks on and off forever; a walker may cross only while it is on.
Does the walker eventually cross?

- Under weak fairness on ``Cross`` (WF: an action that stays enabled is
  eventually taken) it need not: ``Cross`` is enabled only while the light
  is on, never continuously, and the light may always turn off first. The
  check prints that run, a lasso: blink on, blink off, forever.
- Under strong fairness (SF: an action enabled again and again is eventually
  taken) the walker crosses: the light comes on infinitely often.

    paxoscope check examples/fairness/blinker.py:Blinker                      # fails: the lasso
    paxoscope check examples/fairness/blinker.py:Blinker --param strong=True  # holds
"""

from __future__ import annotations

from typing import NamedTuple

from paxoscope import Spec, action, eventually, strong, weak


class Crossing(NamedTuple):
    light: str  # "on" or "off"
    crossed: bool


class Blinker(Spec):
    name = "blinker"
    actions = ("Blink", "Cross")

    def __init__(self, strong: bool = False):
        self.strong = strong

    def init(self):
        yield Crossing("off", False)

    def next(self, s: Crossing):
        yield action("Blink"), s._replace(light="off" if s.light == "on" else "on")
        if s.light == "on" and not s.crossed:
            yield action("Cross"), s._replace(crossed=True)

    @property
    def fairness(self):
        return (weak("Blink"), strong("Cross") if self.strong else weak("Cross"))

    @property
    def liveness(self):
        return {"EventuallyCrosses": eventually(lambda s: s.crossed)}

    @property
    def config(self):
        return {"fairness on Cross": "strong" if self.strong else "weak"}
