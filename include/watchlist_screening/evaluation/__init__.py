"""Measuring the pipeline against truth: generated worlds, a screened day, FEBRL.

scenarios.py  the named grid of worlds (generator/world.py) with sizes and seeds
precision_recall.py    precision-recall curves over candidate pairs with sighting recall, the
              figures read off them, and whether one curve lies on or above another
pairs.py      candidate pairs labelled with the truth, blocking recall, raw pair features
baselines.py  the bare face ranking and a supervised classifier, to compare the model with
screening_truth.py  a screened day's alerts (or matches) against truth: sighting recall,
              alert precision (`watchlist-evaluate`)
grouping_truth.py   a grouping (who is one person) against truth: pair precision/recall
febrl.py      the project's linkage path on the FEBRL benchmark data sets

Measurement only: nothing here is read by the linkage, and no figure here may be copied
into it.
"""
