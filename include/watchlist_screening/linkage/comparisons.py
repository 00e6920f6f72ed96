"""The Fellegi-Sunter comparisons and the stated priors of the prior-based trainer.

Wanted people can change their name, date and place of birth and nationality, but not
their face, sex, height or eye colour, so the physical comparisons carry the weight and
identity fields only add evidence when they agree. All SQL is symmetric in l/r, because
Splink may present a pair either way round (e.g. in u sampling). Custom levels are written
in DuckDB's dialect, and in Spark's for the Spark engine (spark_linkage.py): the same
levels in the same order, so a model trained on DuckDB scores identically on Spark.
"""
from __future__ import annotations

import re
from typing import Literal

import splink.comparison_level_library as cll
import splink.comparison_library as cl

# Cosine similarity of L2-normalised photo embeddings, highest level first: the stated
# levels of the prior-based trainer (training.py). The EM trainer (em_training.py) chooses
# them per day from the data (photo_levels.py) and passes them to comparisons().
PHOTO_THRESHOLDS = (0.85, 0.8, 0.75, 0.7, 0.65, 0.6, 0.5)
DEFAULT_PHOTO_THRESHOLDS = PHOTO_THRESHOLDS
HEIGHT_DIFFERENCES_CM = (2, 4, 7, 10)
# A forged birth date must still fit the face, whose apparent age an officer (or a face
# model) reads to within about five years: a wanted person's new date stays that close,
# a look-alike's is anyone's. Measured at scale a: precision 0.950 -> 0.963 at the same
# recall (bench/results/linkage.json). The EM trainer estimates this level's m.
DOB_PLAUSIBLE_YEARS = 5
CONFUSABLE_EYE_COLOURS = (("hazel", "brown", "amber"), ("grey", "blue"))

PHOTO = "face_embedding"
# Names, dates and places of birth and nationality as one comparison (the EM trainer's):
# a wanted person keeps or drops them together, so as four comparisons a new identity
# counts its disagreement four times (about -6 bits measured, where the truth is near 0).
IDENTITY = "identity"
IDENTITY_FIELDS = ("names", "date_of_birth", "place_of_birth", "nationality")
PHOTO_LABEL = "Cosine similarity of " + PHOTO + " >= {threshold}"
# what a wanted person cannot change, besides the face
PHYSIQUE = ("sex", "height_cm", "eye_colour")
FACE_BAND_PREFIX = "Face alike"
FACE_BAND_LABEL = FACE_BAND_PREFIX + " (cosine >= {cut}): "
_FACE_BAND = re.compile(re.escape(FACE_BAND_PREFIX) + r" \(cosine >= (-?[0-9.]+)\): ")
_PHOTO_LEVEL = re.compile(r">= (-?[0-9.]+)$")

Dialect = Literal["duckdb", "spark"]
# The Spark engine's name similarity: the best DuckDB jaro_winkler_similarity over all
# pairings of two name lists, a Python UDF that spark_linkage registers.
SPARK_BEST_JARO_WINKLER = "best_jaro_winkler"
SPARK_PHOTO_COSINE = "photo_cosine"

# m = P(level | same person), one value per non-null level, in level order: the stated
# priors of the prior-based trainer (training.py), which replaces those it can estimate
# and records where each value came from. The EM trainer does not use them.
M_PRIORS: dict[str, list[float]] = {
    # a face model's genuine-pair similarity: mostly high, a tail of poor photos; a photo
    # of the person that does not resemble their listing at all means a wrong photo
    PHOTO: [0.30, 0.25, 0.20, 0.13, 0.07, 0.0345, 0.015, 0.0005],
    # recorded wrongly very rarely
    "sex": [0.995, 0.005],
    # measured: differs by a few cm between records
    "height_cm": [0.55, 0.30, 0.13, 0.015, 0.005],
    # recorded by a person: occasionally confused within the usual groups
    "eye_colour": [0.88, 0.10, 0.02],
    # travelling under an alias or a new identity is the norm for wanted people
    "names": [0.30, 0.08, 0.10, 0.07, 0.45],
    # exact (own or alias date), transposed, within a year, within a face-plausible
    # span (a forged date), else
    "date_of_birth": [0.40, 0.03, 0.05, 0.45, 0.07],
    "place_of_birth": [0.35, 0.65],
    "nationality": [0.45, 0.55],
}


def photo_thresholds_of(model: dict) -> tuple[float, ...]:
    """The photo level boundaries a trained model (Splink JSON) was built with."""
    for comparison in model["comparisons"]:
        if comparison["output_column_name"] == PHOTO:
            found = [_PHOTO_LEVEL.search(level.get("label_for_charts", "")) for level in comparison["comparison_levels"]]
            return tuple(float(f.group(1)) for f in found if f)
    raise KeyError(PHOTO)


def _eye_confusion_sql() -> str:
    groups = []
    for group in CONFUSABLE_EYE_COLOURS:
        values = ", ".join(f"'{c}'" for c in group)
        groups.append(f"(eye_colour_l IN ({values}) AND eye_colour_r IN ({values}))")
    return " OR ".join(groups)


def _size(column: str, dialect: Dialect) -> str:
    return f"size({column})" if dialect == "spark" else f"len({column})"


def _shares_element(column: str, dialect: Dialect) -> str:
    if dialect == "spark":
        return f"size(array_intersect({column}_l, {column}_r)) > 0"
    return f"len(list_intersect({column}_l, {column}_r)) > 0"


def _empty_list(column: str, dialect: Dialect) -> str:
    return (f"{column}_l IS NULL OR {column}_r IS NULL OR "
            f"{_size(column + '_l', dialect)} = 0 OR {_size(column + '_r', dialect)} = 0")


def _best_name_similarity(threshold: float, dialect: Dialect) -> str:
    # name_keys: every known name of the record (primary and aliases), normalised with
    # tokens sorted, so "smith john" matches "john smith"; the best pairing wins.
    if dialect == "spark":
        # Not Splink's jaro_winkler UDF: it is another variant (0.877 where DuckDB says
        # 0.886 for "edwards olivia"/"edwards michael", across the 0.88 level), and Spark
        # allows no Python UDF inside a lambda, hence one UDF for the best pairing.
        return f"{SPARK_BEST_JARO_WINKLER}(name_keys_l, name_keys_r) >= {threshold}"
    return (
        "list_max(list_transform(name_keys_l, lambda a: list_max(list_transform(name_keys_r, "
        f"lambda b: jaro_winkler_similarity(a, b))))) >= {threshold}"
    )


def _any_dob(condition: str, dialect: Dialect) -> str:
    if dialect == "spark":
        return f"exists(all_dobs_l, a -> exists(all_dobs_r, b -> {condition}))"
    return (
        "len(list_filter(all_dobs_l, lambda a: len(list_filter(all_dobs_r, "
        f"lambda b: {condition})) > 0)) > 0"
    )


def _same_surname(term_frequencies: bool):
    level = cll.CustomLevel("surname_norm_l = surname_norm_r", "Same surname")
    if term_frequencies:
        # A shared rare surname says more than a shared common one (Splink's TF adjustment).
        level = level.configure(tf_adjustment_column="surname_norm", tf_adjustment_weight=1.0)
    return level


def _cosine(dialect: Dialect) -> str:
    return (f"{SPARK_PHOTO_COSINE}({PHOTO}_l, {PHOTO}_r)" if dialect == "spark"
            else f"array_cosine_similarity({PHOTO}_l, {PHOTO}_r)")


def split_by_face_band(settings: dict, cut: float, dialect: Dialect = "duckdb") -> dict:
    """`settings` (a Splink settings dict, changed in place and returned) with each
    physique comparison's levels twice: first for pairs whose faces are alike (cosine >=
    `cut`), then for the rest.

    Among strangers, those with alike faces share a build far more often than the
    random pairs that make up most candidates (look-alikes: same sex, height, eye colour),
    so a physique that agrees is weaker evidence there. Each band gets its own u, P(level |
    band, non-match); m is the same in both, P(level | match), since a wanted person's
    build does not depend on the photo. Within each band m and u sum to 1: a pair's face
    level fixes its band, so the band is not counted twice (the photo comparison carries it)."""
    near = f"{_cosine(dialect)} >= {cut}"
    for comparison in settings["comparisons"]:
        if comparison["output_column_name"] not in PHYSIQUE:
            continue
        levels = comparison["comparison_levels"]
        if any(level.get("label_for_charts", "").startswith(FACE_BAND_PREFIX) for level in levels):
            raise ValueError(f"{comparison['output_column_name']} is split by face band already")
        null = [level for level in levels if level.get("is_null_level")]
        rest = [level for level in levels if not level.get("is_null_level")]
        alike = []
        for level in rest:
            copy = {k: v for k, v in level.items() if k not in ("m_probability", "u_probability")}
            condition = level["sql_condition"]
            copy["sql_condition"] = near if condition.strip().upper() == "ELSE" else f"({near}) AND ({condition})"
            copy["label_for_charts"] = FACE_BAND_LABEL.format(cut=cut) + level["label_for_charts"]
            alike.append(copy)
        comparison["comparison_levels"] = null + alike + rest
    return settings


def face_band_of(model: dict) -> float | None:
    """The face cut a trained model's physique levels are split at, None if they are not."""
    for comparison in model["comparisons"]:
        for level in comparison["comparison_levels"]:
            found = _FACE_BAND.match(level.get("label_for_charts", ""))
            if found:
                return float(found.group(1))
    return None


def _photo(thresholds: tuple[float, ...], dialect: Dialect):
    # Custom levels on both backends: Splink's CosineSimilarityAtThresholds takes no
    # negative threshold, and the impostor median of a face model can be one. On Spark,
    # Splink's SQL recomputes the cosine per level with interpreted array aggregates (over
    # 10 min for 850k pairs on 2 cores); a vectorised UDF (spark_linkage.py) does it in numpy.
    if list(thresholds) != sorted(set(thresholds), reverse=True):
        raise ValueError(f"photo thresholds must be distinct and descending, got {thresholds}")
    cosine = _cosine(dialect)
    return cl.CustomComparison(
        output_column_name=PHOTO,
        comparison_levels=[
            cll.NullLevel(PHOTO),
            *[cll.CustomLevel(f"{cosine} >= {t}", PHOTO_LABEL.format(threshold=t)) for t in thresholds],
            cll.ElseLevel(),
        ],
        comparison_description="CosineSimilarityAtThresholds",
    )


def _identity(dialect: Dialect):
    """One comparison over names, dates, place of birth and nationality, most telling
    agreement first. Its levels' m are the travel modes' shares: the else level ("nothing
    agrees") is the wanted people travelling as someone else, which the day estimates."""
    same_name = _shares_element("name_keys", dialect)
    name_alike = _best_name_similarity(0.88, dialect)
    same_dob = _shares_element("all_dobs", dialect)
    dob_typo = _any_dob("year(a) = year(b) AND month(a) = day(b) AND day(a) = month(b)", dialect)
    dob_year = _any_dob("abs(year(a) - year(b)) <= 1", dialect)
    dob_near = _any_dob(f"abs(year(a) - year(b)) <= {DOB_PLAUSIBLE_YEARS}", dialect)
    place = "place_of_birth_norm_l = place_of_birth_norm_r"
    nationality = "nationality_l = nationality_r"
    # no term-frequency adjustment here: Splink adjusts a level, and this level's weight is
    # a travel mode's, not a surname's (surname_term_frequencies did not help either)
    surname_sql = "surname_norm_l = surname_norm_r"
    nothing = (f"({_empty_list('name_keys', dialect)}) AND ({_empty_list('all_dobs', dialect)}) AND "
               "(place_of_birth_norm_l IS NULL OR place_of_birth_norm_r IS NULL) AND "
               "(nationality_l IS NULL OR nationality_r IS NULL)")
    return cl.CustomComparison(
        output_column_name=IDENTITY,
        comparison_levels=[
            cll.CustomLevel(nothing, "No identity field on one side").configure(is_null_level=True),
            # namesakes share a name and a date; fewer share the origin too
            cll.CustomLevel(f"({same_name}) AND ({same_dob}) AND (({place}) OR ({nationality}))",
                            "Same name, date of birth and place of birth or nationality"),
            cll.CustomLevel(f"({same_name}) AND ({same_dob})", "Same name and date of birth (any alias)"),
            cll.CustomLevel(f"({name_alike}) AND (({same_dob}) OR ({dob_typo}) OR ({dob_year}))",
                            "Name alike, date of birth within a year"),
            cll.CustomLevel(name_alike, "Name alike (Jaro-Winkler >= 0.88), date of birth not"),
            cll.CustomLevel(f"({same_dob}) OR ({dob_typo})", "Date of birth agrees, name not"),
            cll.CustomLevel(f"({surname_sql}) AND ({dob_near})",
                            f"Same surname, date of birth within {DOB_PLAUSIBLE_YEARS} years"),
            cll.CustomLevel(dob_near, f"Date of birth within {DOB_PLAUSIBLE_YEARS} years, name not"),
            cll.CustomLevel(surname_sql, "Same surname only"),
            cll.CustomLevel(f"({place}) AND ({nationality})", "Place of birth and nationality only"),
            cll.CustomLevel(f"({place}) OR ({nationality})", "Place of birth or nationality only"),
            cll.ElseLevel(),
        ],
        comparison_description="Identity: names, dates of birth, place of birth and nationality together",
    )


def has_joint_identity(model: dict) -> bool:
    """Whether a trained model (Splink JSON) compares identity as one comparison."""
    return any(c["output_column_name"] == IDENTITY for c in model["comparisons"])


def comparisons(surname_term_frequencies: bool = False, dialect: Dialect = "duckdb",
                photo_thresholds: tuple[float, ...] = DEFAULT_PHOTO_THRESHOLDS,
                joint_identity: bool = False, identity=None) -> list:
    """Comparisons in a fixed order; training and the Spark engine rely on the level order.

    `surname_term_frequencies` is off by default: measured at scale a it did not help
    (bench/results/linkage.json, "tf_surname"). `dialect` is the SQL dialect of the
    custom levels (the library levels render themselves for whichever backend).
    `identity`: the joint identity comparison to use instead of the clear one (named
    IDENTITY, levels most telling first), e.g. encoded_comparisons.encoded_identity()."""
    if dialect not in ("duckdb", "spark"):
        raise ValueError(f"unsupported dialect {dialect!r}")
    physical = [
        _photo(tuple(photo_thresholds), dialect),
        cl.ExactMatch("sex"),
        cl.CustomComparison(
            output_column_name="height_cm",
            comparison_levels=[
                cll.NullLevel("height_cm"),
                *[cll.AbsoluteDifferenceLevel("height_cm", d) for d in HEIGHT_DIFFERENCES_CM],
                cll.ElseLevel(),
            ],
            comparison_description="Height difference (cm)",
        ),
        cl.CustomComparison(
            output_column_name="eye_colour",
            comparison_levels=[
                cll.NullLevel("eye_colour"),
                cll.ExactMatchLevel("eye_colour"),
                cll.CustomLevel(_eye_confusion_sql(), "Commonly confused colours"),
                cll.ElseLevel(),
            ],
            comparison_description="Eye colour",
        ),
    ]
    if joint_identity:
        return [*physical, identity if identity is not None else _identity(dialect)]
    return [
        *physical,
        cl.CustomComparison(
            output_column_name="names",
            comparison_levels=[
                cll.CustomLevel(_empty_list("name_keys", dialect), "No name").configure(is_null_level=True),
                cll.CustomLevel(_shares_element("name_keys", dialect), "Same name (any alias)"),
                cll.CustomLevel(_best_name_similarity(0.95, dialect), "Name Jaro-Winkler >= 0.95 (any alias)"),
                cll.CustomLevel(_best_name_similarity(0.88, dialect), "Name Jaro-Winkler >= 0.88 (any alias)"),
                _same_surname(surname_term_frequencies),
                cll.ElseLevel(),
            ],
            comparison_description="Names against primary name and every alias",
        ),
        cl.CustomComparison(
            output_column_name="date_of_birth",
            comparison_levels=[
                cll.CustomLevel(_empty_list("all_dobs", dialect), "No date of birth").configure(is_null_level=True),
                cll.CustomLevel(_shares_element("all_dobs", dialect), "Same date of birth (any alias)"),
                cll.CustomLevel(
                    _any_dob("year(a) = year(b) AND month(a) = day(b) AND day(a) = month(b)", dialect),
                    "Day and month transposed",
                ),
                cll.CustomLevel(_any_dob("abs(year(a) - year(b)) <= 1", dialect), "Within a year"),
                cll.CustomLevel(_any_dob(f"abs(year(a) - year(b)) <= {DOB_PLAUSIBLE_YEARS}", dialect),
                                f"Within {DOB_PLAUSIBLE_YEARS} years"),
                cll.ElseLevel(),
            ],
            comparison_description="Date of birth against every listed date",
        ),
        cl.CustomComparison(
            output_column_name="place_of_birth",
            comparison_levels=[
                cll.NullLevel("place_of_birth_norm"),
                cll.ExactMatchLevel("place_of_birth_norm"),
                cll.ElseLevel(),
            ],
            comparison_description="Place of birth",
        ),
        cl.CustomComparison(
            output_column_name="nationality",
            comparison_levels=[
                cll.NullLevel("nationality"),
                cll.ExactMatchLevel("nationality"),
                cll.ElseLevel(),
            ],
            comparison_description="Nationality",
        ),
    ]
