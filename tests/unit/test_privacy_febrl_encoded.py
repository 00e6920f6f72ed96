"""The encoded FEBRL path's pieces on a few records (the whole of FEBRL4 is the bench's:
bench/privacy_bench.py)."""
import duckdb
import pytest

from tests.unit.privacy_data import secret
from watchlist_screening.evaluation import febrl, febrl_encoded
from watchlist_screening.privacy.clk import ClkEncoder
from watchlist_screening.privacy.dice import dice_bytes


@pytest.fixture(scope="module")
def con():
    con = duckdb.connect()
    febrl.load(con)
    for table in (febrl.LEFT, febrl.RIGHT):   # 40 entities on both sides keep it quick
        con.execute(f"DELETE FROM {table} WHERE try_cast(entity AS INTEGER) >= 40")
    encoder = ClkEncoder(febrl_encoded.linkage_schema(0.02), secret())
    febrl_encoded.encode_tables(con, encoder)
    yield con
    con.close()


def test_clear_columns_are_gone_and_fields_are_bits(con):
    types = dict(con.execute(f"SELECT column_name, data_type FROM information_schema.columns "
                             f"WHERE table_name = '{febrl.LEFT}'").fetchall())
    assert all(types[c] == "BIT" for c in febrl.COLUMNS)
    assert {c for c, t in types.items() if t != "BIT"} == {"unique_id", "entity"}


def test_sql_dice_equals_python_dice(con):
    rows = con.execute(f"SELECT CAST(a.surname AS BLOB), CAST(b.surname AS BLOB), "
                       f"{febrl_encoded.dice_sql('a.surname', 'b.surname')} FROM {febrl.LEFT} a, {febrl.RIGHT} b "
                       f"WHERE a.surname IS NOT NULL AND b.surname IS NOT NULL LIMIT 200").fetchall()
    assert rows and all(abs(dice_bytes(bytes(x), bytes(y)) - d) < 1e-12 for x, y, d in rows)


def test_blocking_keeps_the_true_pairs_and_drops_most_others(con):
    block = febrl_encoded.dice_sql(f"a.{febrl_encoded.BLOCK}", f"b.{febrl_encoded.BLOCK}")
    pairs, true_kept = con.execute(f"SELECT count(*), count(*) FILTER (WHERE a.entity = b.entity) "
                                   f"FROM {febrl.LEFT} a, {febrl.RIGHT} b WHERE {block} >= 0.4").fetchall()[0]
    truth = len(febrl.true_pairs(con))
    assert true_kept == truth and pairs < 3 * truth


def test_the_model_has_dice_levels_for_every_field():
    model = febrl_encoded.model_dict(0.4)
    assert [c["output_column_name"] for c in model["comparisons"]] == list(febrl.COLUMNS)
    given = model["comparisons"][0]["comparison_levels"]
    assert any("crossed" in level.get("label_for_charts", "") for level in given)
    assert "bit_count" in model["blocking_rules_to_generate_predictions"][0]["blocking_rule"]
