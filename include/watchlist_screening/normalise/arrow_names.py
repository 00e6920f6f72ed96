"""rules.normalise_name over a whole Arrow column: pyarrow's C++ kernels for the common
steps, Python (anyascii) only for the values that are not ASCII already."""
from __future__ import annotations

import pyarrow as pa
import pyarrow.compute as pc

from watchlist_screening.normalise.rules import fold_to_ascii


def fold_non_ascii(texts: pa.Array) -> pa.Array:
    needs = pc.invert(pc.fill_null(pc.string_is_ascii(texts), True))
    if not pc.any(needs).as_py():
        return texts
    # Names repeat (a batch holds many Muhammads and Müllers): each distinct one is folded once.
    distinct = pc.unique(texts.filter(needs))
    folded = pa.array([fold_to_ascii(text) for text in distinct.to_pylist()], pa.string())
    return pc.if_else(needs, folded.take(pc.index_in(texts, value_set=distinct)), texts)


def normalise_names(texts: pa.Array) -> pa.Array:
    """Each text as lower-case ASCII words separated by single spaces; NULL when empty."""
    words = pc.utf8_trim(pc.replace_substring_regex(pc.ascii_lower(fold_non_ascii(texts)), "[^a-z0-9]+", " "), " ")
    return pc.if_else(pc.equal(words, ""), pa.scalar(None, pa.string()), words)


def join_names(given_names_norm: pa.Array, surname_norm: pa.Array) -> pa.Array:
    """rules.normalise_full_name from the two normalised parts."""
    joined = pc.utf8_trim(pc.binary_join_element_wise(given_names_norm, surname_norm, " ",
                                                      null_handling="replace", null_replacement=""), " ")
    return pc.if_else(pc.equal(joined, ""), pa.scalar(None, pa.string()), joined)
