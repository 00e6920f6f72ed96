"""The comparisons in DuckDB's and Spark's SQL dialects, and what the Spark engine needs to
score a DuckDB-trained model identically (no Spark here: tests/integration/test_spark_linkage.py)."""
from __future__ import annotations

import random
import re

import duckdb
import pytest

from watchlist_screening.linkage import comparisons
from watchlist_screening.linkage.linker import settings_creator
from watchlist_screening.linkage.spark_linkage import best_jaro_winkler, duckdb_jaro_winkler, spark_model


def _levels(dialect: str, **options) -> list[tuple[str, list[dict]]]:
    settings = settings_creator(dialect=dialect, **options).get_settings(dialect).as_dict()
    return [(c["output_column_name"], c["comparison_levels"]) for c in settings["comparisons"]]


@pytest.mark.parametrize("term_frequencies", [False, True])
def test_dialect_option_leaves_the_duckdb_settings_alone(term_frequencies):
    default = settings_creator(surname_term_frequencies=term_frequencies).get_settings("duckdb").as_dict()
    explicit = settings_creator(surname_term_frequencies=term_frequencies, dialect="duckdb").get_settings("duckdb")
    assert explicit.as_dict() == default
    # the DuckDB custom levels as trained models hold them
    conditions = [lvl["sql_condition"] for c in default["comparisons"] for lvl in c["comparison_levels"]]
    assert "len(list_intersect(name_keys_l, name_keys_r)) > 0" in conditions
    assert ("list_max(list_transform(name_keys_l, lambda a: list_max(list_transform(name_keys_r, "
            "lambda b: jaro_winkler_similarity(a, b))))) >= 0.88") in conditions
    assert ("len(list_filter(all_dobs_l, lambda a: len(list_filter(all_dobs_r, "
            "lambda b: abs(year(a) - year(b)) <= 1)) > 0)) > 0") in conditions


@pytest.mark.parametrize("joint_identity", [False, True])
@pytest.mark.parametrize("term_frequencies", [False, True])
def test_spark_levels_mirror_the_duckdb_levels(term_frequencies, joint_identity):
    options = {"surname_term_frequencies": term_frequencies, "joint_identity": joint_identity}
    duck, spark = _levels("duckdb", **options), _levels("spark", **options)
    assert [name for name, _ in spark] == [name for name, _ in duck]
    same_keys = ("label_for_charts", "is_null_level", "tf_adjustment_column", "tf_adjustment_weight")
    for (name, spark_levels), (_, duck_levels) in zip(spark, duck):
        assert [{k: lvl.get(k) for k in same_keys} for lvl in spark_levels] == \
               [{k: lvl.get(k) for k in same_keys} for lvl in duck_levels], name
    spark_sql = " ".join(lvl["sql_condition"] for _, levels in spark for lvl in levels)
    assert not re.search(r"\blen\(|list_|lambda|jaro_winkler_similarity", spark_sql)
    assert f"{comparisons.SPARK_BEST_JARO_WINKLER}(name_keys_l, name_keys_r) >= {0.88 if joint_identity else 0.95}" in spark_sql


def test_unknown_dialect_is_refused():
    with pytest.raises(ValueError, match="dialect"):
        comparisons.comparisons(dialect="postgres")


def _duckdb_model() -> dict:
    model = settings_creator(probability_two_random_records_match=3e-6).get_settings("duckdb").as_dict()
    for comparison in model["comparisons"]:
        levels = [lvl for lvl in comparison["comparison_levels"] if not lvl.get("is_null_level")]
        for i, level in enumerate(levels):
            level["m_probability"] = comparisons.M_PRIORS[comparison["output_column_name"]][i]
            level["u_probability"] = (i + 1) / 1000
    return model


def test_spark_model_copies_the_trained_parameters_level_by_level():
    model = _duckdb_model()
    converted = spark_model(model)
    assert converted["sql_dialect"] == "spark"
    assert converted["probability_two_random_records_match"] == 3e-6
    for trained, spark in zip(model["comparisons"], converted["comparisons"]):
        for a, b in zip(trained["comparison_levels"], spark["comparison_levels"]):
            assert (a.get("m_probability"), a.get("u_probability")) == (b.get("m_probability"), b.get("u_probability"))


def test_spark_model_keeps_the_em_models_identity_and_face_bands():
    """The EM trainer's model (one identity comparison, physique levels once per face band)
    converts level by level, the band's cut in Spark's cosine."""
    model = settings_creator(probability_two_random_records_match=3e-6, joint_identity=True).get_settings(
        "duckdb").as_dict()
    comparisons.split_by_face_band(model, 0.61)
    for comparison in model["comparisons"]:
        for i, level in enumerate(comparison["comparison_levels"]):
            level["m_probability"], level["u_probability"] = 0.5, (i + 1) / 1000
    converted = spark_model(model)
    assert [c["output_column_name"] for c in converted["comparisons"]] == \
           [c["output_column_name"] for c in model["comparisons"]]
    assert comparisons.face_band_of(converted) == 0.61
    for trained, spark in zip(model["comparisons"], converted["comparisons"]):
        assert [lvl["label_for_charts"] for lvl in spark["comparison_levels"]] == \
               [lvl["label_for_charts"] for lvl in trained["comparison_levels"]]
        for a, b in zip(trained["comparison_levels"], spark["comparison_levels"]):
            assert (a.get("m_probability"), a.get("u_probability")) == (b.get("m_probability"), b.get("u_probability"))
    sex = next(c for c in converted["comparisons"] if c["output_column_name"] == "sex")
    assert f"{comparisons.SPARK_PHOTO_COSINE}(face_embedding_l, face_embedding_r) >= 0.61" in \
        sex["comparison_levels"][1]["sql_condition"]


def test_spark_model_refuses_a_model_with_other_levels():
    model = _duckdb_model()
    del model["comparisons"][1]["comparison_levels"][1]
    with pytest.raises(ValueError, match="sex"):
        spark_model(model)


def _mutated(name: str, rng: random.Random) -> str:
    chars = list(name)
    i = rng.randrange(len(chars))
    edit = rng.choice(("replace", "delete", "swap", "insert"))
    if edit == "replace":
        chars[i] = rng.choice("abcdefghijklmnopqrstuvwxyz ")
    elif edit == "delete" and len(chars) > 1:
        del chars[i]
    elif edit == "swap" and i + 1 < len(chars):
        chars[i], chars[i + 1] = chars[i + 1], chars[i]
    else:
        chars.insert(i, rng.choice("abcdefghijklmnopqrstuvwxyz"))
    return "".join(chars)


def test_spark_name_similarity_is_duckdbs_to_the_bit():
    rng = random.Random(5)
    given = ["olivia", "michael", "andrea", "andrey", "francesca", "francisco", "jose", "ayesha", "lin", "yuqing"]
    family = ["edwards", "conti", "smirnov", "greco", "pena", "muller", "sharma", "ouyang", "richter", "meyer"]
    names = [f"{rng.choice(family)} {rng.choice(given)}" for _ in range(400)]
    pairs = [(rng.choice(names), rng.choice(names)) for _ in range(4000)]
    pairs += [(n, _mutated(_mutated(n, rng), rng)) for n in names for _ in range(5)]
    pairs += [
        ("edwards olivia", "edwards michael"),   # Splink's jar UDF says 0.877, DuckDB 0.886
        ("andrea conti", "andrey smirnov"),      # Winkler step rounded once (fused multiply-add)
        ("müller", "muller"), ("josé", "jose"),  # DuckDB compares bytes
        ("", ""), ("", "a"), ("a", "a"), ("ab", "ba"), ("abc", "abcdef"),
    ]
    left, right = [a for a, _ in pairs], [b for _, b in pairs]
    expected = duckdb.connect().execute(
        "SELECT jaro_winkler_similarity(a, b) FROM (SELECT unnest(?) AS a, unnest(?) AS b)", [left, right]).fetchall()
    assert [duckdb_jaro_winkler(a, b) for a, b in pairs] == [x for (x,) in expected]


def test_best_jaro_winkler_takes_the_best_pairing():
    listed = ["edwards michael", "olivia edwards"]
    assert best_jaro_winkler(["olivia edwards"], listed) == 1.0
    assert best_jaro_winkler(["edwards olivia"], listed) == duckdb_jaro_winkler("edwards olivia", "edwards michael")
    assert best_jaro_winkler([], listed) is None
    assert best_jaro_winkler(None, listed) is None
