"""Measuring the linkage against generated truth over a family of worlds.

scenarios.py  the named grid of worlds (generator/world.py) with sizes and seeds
metrics.py    precision-recall curves over candidate pairs with sighting recall, the
              figures read off them, and whether one curve lies on or above another
pairs.py      candidate pairs labelled with the truth, blocking recall, raw pair features
baselines.py  the bare face ranking and a supervised classifier, to compare the model with

Measurement only: nothing here is read by the linkage, and no figure here may be copied
into it.
"""
