import duckdb
import pytest

from tests.unit.privacy_data import secret
from watchlist_screening.privacy import dice, linkage_schema
from watchlist_screening.linkage.encoded_comparisons import DiceLevels
from watchlist_screening.privacy.clk import ClkEncoder, from_b64


@pytest.fixture
def encoder():
    return ClkEncoder(linkage_schema.current(), secret())


def test_deterministic_under_one_key(encoder):
    assert encoder.encode("name", "anna kowalska", "S-1") == encoder.encode("name", "anna kowalska", "S-1")


def test_same_secret_gives_same_encoding_in_another_encoder():
    key = secret()
    a, b = ClkEncoder(linkage_schema.current(), key), ClkEncoder(linkage_schema.current(), key)
    assert a.encode("surname", "kowalska", "S-1") == b.encode("surname", "kowalska", "S-1")


def test_different_under_another_key(encoder):
    other = ClkEncoder(linkage_schema.current(), secret())
    assert encoder.bloom_filter("name", "anna kowalska") != other.bloom_filter("name", "anna kowalska")
    assert dice.dice_bytes(encoder.bloom_filter("name", "anna kowalska"),
                           other.bloom_filter("name", "anna kowalska")) < 0.5


def test_dice_of_identical_is_one(encoder):
    clk = encoder.encode("name", "anna kowalska", "S-1")
    assert dice.dice(clk, clk) == 1.0
    bloom = encoder.bloom_filter("name", "anna kowalska")
    assert dice.dice_bytes(bloom, bloom) == 1.0


def test_near_names_score_above_unrelated_names(encoder):
    base = encoder.encode("name", "anna kowalska", "S-1")
    near = encoder.encode("name", "anna kowalski", "W-1")
    unrelated = encoder.encode("name", "tomasz wisniewski", "W-2")
    assert dice.dice(base, near) > 0.6 > dice.dice(base, unrelated)


def test_hardening_separates_equal_values_of_two_records_but_keeps_them_close(encoder):
    a = encoder.encode("surname", "smith", "S-1")
    b = encoder.encode("surname", "smith", "S-2")
    assert a != b                       # the commonest CLK is no longer the commonest name
    # yet they still link: at the linkage's same-surname level. The key is random per run;
    # over 400 keys the Dice of two hardened "smith" ran 0.794-0.87 (1.5% at or under 0.8,
    # which a bound of 0.8 here failed on CI)
    assert dice.dice(a, b) >= DiceLevels().surname_same
    assert dice.dice(a, encoder.encode("surname", "jones", "S-3")) < 0.5


def test_near_dates_share_more_bits_than_far_ones(encoder):
    base = encoder.encode("date_of_birth", "19800517", "S-1")
    assert (dice.dice(base, encoder.encode("date_of_birth", "19800518", "W-1"))
            > dice.dice(base, encoder.encode("date_of_birth", "19631102", "W-2")))


def test_absent_value_is_null(encoder):
    assert encoder.encode("place_of_birth", None, "S-1") is None


def test_clk_is_1024_bits(encoder):
    assert len(from_b64(encoder.encode("nationality", "POL", "S-1"))) == 128


def test_duckdb_dice_equals_python_dice(encoder):
    a = encoder.encode("name", "anna kowalska", "S-1")
    b = encoder.encode("name", "ana kowalski", "W-1")
    c = encoder.encode("name", "marta nowak", "W-1", 1)
    con = duckdb.connect()
    dice.register(con)
    got = con.execute("SELECT pprl_dice(pprl_bits(?), pprl_bits(?)), "
                      "pprl_max_dice([pprl_bits(?), pprl_bits(?)], pprl_bits(?)), "
                      "pprl_dice(NULL, pprl_bits(?))", [a, b, b, c, a, a]).fetchone()
    assert got[0] == pytest.approx(dice.dice(a, b))
    assert got[1] == pytest.approx(max(dice.dice(a, b), dice.dice(a, c)))
    assert got[2] is None
