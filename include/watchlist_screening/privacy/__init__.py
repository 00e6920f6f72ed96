"""Privacy-preserving mode (issue 17), the encoder half: the edge encoder that turns
contract files into the encoded landing zone (keyed Bloom-filter CLKs per identity
field, a keyed rotation of the face embedding), Dice similarity in Python and DuckDB
SQL, and the owner-side lookup that re-identifies an alert. See docs/privacy.md.
"""
ENCODING = "watchlist-pprl/1"
LINKAGE_SCHEMA = "watchlist-pprl"
VERSION = 1
