"""The identity comparison of the encoded mode (issue 17): the clear joint identity's
levels (comparisons._identity), most telling first, read off Dice similarities of the
edge encoder's CLKs instead of name and date equality.

Dice = 2·|a ∧ b| / (|a| + |b|) over the 1024 bits, in DuckDB SQL on BIT columns
(encoded_tables.py), no Python per pair. Names are compared as the clear mode compares
them: the passenger's against the entry's primary name and every alias, the best pairing.

The encoder hardens every CLK with keyed per-record bit flips (2% of bits), so the same
name never gives the same CLK and no level can be "exact": a level says "as alike as the
same value encodes". Its boundaries are fixed, as the clear levels' are (exact, Jaro-
Winkler 0.88, a year, five years), and were measured on the encoder's own output for
generated names and dates (the 1% quantile of same-value Dice against the 99% quantile of
different values, DiceLevels below); the trainer (em_training.py) estimates every level's
m and u from the day, as in clear mode.
"""
from __future__ import annotations

from dataclasses import dataclass

import splink.comparison_level_library as cll
import splink.comparison_library as cl

from watchlist_screening.linkage.comparisons import IDENTITY


@dataclass(frozen=True)
class DiceLevels:
    """Dice boundaries, measured on privacy.clk's output (1024 bits, 2% flips), quantiles
    over 300 generated pairs each: same full name 0.77 (1%) / 0.91 (median), a one-letter
    change 0.81 median, other names at most 0.39; same date 0.88 (min), a year or up to
    five apart 0.78-0.85, other dates 0.54-0.60 (YYYYMMDD, positional digits); same
    surname 0.74 (1%), others at most 0.40; same place of birth 0.80 (1%), others 0.27;
    same nationality 0.74 (1%), others 0.33. A forged date of birth (the clear mode's
    "within 5 years": the year kept near, month and day anyone's) keeps the year's leading
    digits: measured on a generated day's sightings 0.43-0.73 (median 0.63), where
    strangers born 1-5 years apart give median 0.54 and over 10 years apart 0.41 (90%
    under 0.55)."""
    name_same: float = 0.85        # the same name (short names reach 0.77 at worst)
    name_alike: float = 0.65       # a spelling variant
    surname_same: float = 0.75
    dob_same: float = 0.87         # the same date: above a year's change (<= 0.85)
    dob_near: float = 0.70         # one digit off (a year, a day)
    dob_plausible: float = 0.58    # the year's leading digits kept: a forged date
    place: float = 0.70
    nationality: float = 0.65


def dice_sql(a: str, b: str) -> str:
    """Dice similarity of two BIT expressions; NULL when either is NULL or both empty."""
    return f"(2.0 * bit_count({a} & {b}) / nullif(bit_count({a}) + bit_count({b}), 0))"


def best_dice_sql(column: str) -> str:
    """The best Dice over every pairing of two BIT lists (`<column>_l`, `<column>_r`):
    symmetric, as Splink may present a pair either way round."""
    return (f"list_max(list_transform({column}_l, lambda a: list_max(list_transform({column}_r, "
            f"lambda b: {dice_sql('a', 'b')}))))")


def _at_least(sql: str, threshold: float) -> str:
    return f"coalesce({sql} >= {threshold}, false)"


def encoded_identity(levels: DiceLevels = DiceLevels()):
    """One comparison over the name, surname, date of birth, place of birth and
    nationality CLKs, in the clear joint identity's level order (DuckDB dialect)."""
    name_same = _at_least(best_dice_sql("name_clks"), levels.name_same)
    name_alike = _at_least(best_dice_sql("name_clks"), levels.name_alike)
    surname = _at_least(best_dice_sql("surname_clks"), levels.surname_same)
    dob = best_dice_sql("dob_clks")   # every listed date of birth, as in clear mode
    dob_same, dob_near = _at_least(dob, levels.dob_same), _at_least(dob, levels.dob_near)
    dob_plausible = _at_least(dob, levels.dob_plausible)
    place = _at_least(dice_sql("place_of_birth_clk_l", "place_of_birth_clk_r"), levels.place)
    nationality = _at_least(dice_sql("nationality_clk_l", "nationality_clk_r"), levels.nationality)
    nothing = ("(len(name_clks_l) = 0 OR len(name_clks_r) = 0) AND (len(dob_clks_l) = 0 OR len(dob_clks_r) = 0) AND "
               "(place_of_birth_clk_l IS NULL OR place_of_birth_clk_r IS NULL) AND "
               "(nationality_clk_l IS NULL OR nationality_clk_r IS NULL)")
    return cl.CustomComparison(
        output_column_name=IDENTITY,
        comparison_levels=[
            cll.CustomLevel(nothing, "No identity field on one side").configure(is_null_level=True),
            cll.CustomLevel(f"{name_same} AND {dob_same} AND ({place} OR {nationality})",
                            "Name and date of birth encode alike, and place of birth or nationality"),
            cll.CustomLevel(f"{name_same} AND {dob_same}",
                            f"Name (Dice >= {levels.name_same}, any alias) and date of birth "
                            f"(Dice >= {levels.dob_same}) encode alike"),
            cll.CustomLevel(f"{name_alike} AND {dob_near}",
                            f"Name alike (Dice >= {levels.name_alike}), date of birth near (Dice >= {levels.dob_near})"),
            cll.CustomLevel(name_alike, f"Name alike (Dice >= {levels.name_alike}), date of birth not"),
            cll.CustomLevel(dob_same, f"Date of birth encodes alike (Dice >= {levels.dob_same}), name not"),
            cll.CustomLevel(f"{surname} AND {dob_plausible}",
                            f"Surname (Dice >= {levels.surname_same}) and date of birth plausible "
                            f"(Dice >= {levels.dob_plausible})"),
            cll.CustomLevel(dob_plausible, f"Date of birth plausible (Dice >= {levels.dob_plausible}), name not"),
            cll.CustomLevel(surname, f"Surname alike (Dice >= {levels.surname_same}) only"),
            cll.CustomLevel(f"{place} AND {nationality}", "Place of birth and nationality only"),
            cll.CustomLevel(f"{place} OR {nationality}", "Place of birth or nationality only"),
            cll.ElseLevel(),
        ],
        comparison_description="Identity (encoded): Dice of the name, surname, date of birth, place of birth "
                               "and nationality CLKs together",
    )
