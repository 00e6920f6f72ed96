"""Old import path of tables.py, kept only while em_training.py, candidates.py and
bench/scenario_grid.py still import it (their owners switch them); delete this file then."""
from watchlist_screening.linkage.tables import (  # noqa: F401
    EMBEDDING_DIM, PASSENGERS, WATCHLIST, embedding_matrix, embeddings, load_arrow, load_tables, scalar,
)
