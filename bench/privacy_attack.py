"""Frequency attacks on per-field CLKs (issue 17), used by bench/privacy_bench.py.

The attacker holds the encoded warehouse (one CLK per record for a field) and a public
register of clear values with their frequencies (here: an independent sample of the
same generator, standing in for a census), but not the key. Three attacks:

- exact: count equal CLKs, rank them, and give the i-th commonest CLK the i-th commonest
  register value (the "simple attack" of the issue).
- projection: the same on the patterns of `bits` randomly chosen bit positions. Keyed
  flips make every CLK unique, but flip each position independently, so a value's
  commonest pattern on a few positions is its noise-free one, only rarer by
  (1 - p)^bits for every value alike: the ranking survives.
- bit frequency: how far the commonest q-grams of the register are the commonest bit
  positions (the first step of the pattern-mining attacks of Christen et al. 2018).
  Measured with the key's knowledge of where each q-gram hashes (the attacker has to
  infer it; this tells how much there is to infer).
"""
from __future__ import annotations

from collections import Counter

import numpy as np

from watchlist_screening.privacy.clk import ClkEncoder


def clk_matrix(encoder: ClkEncoder, field: str, values: list[str | None], record_ids: list[str],
               harden: bool) -> np.ndarray:
    """(records × bytes) uint8: the field's CLK per record (zeros for an absent value)."""
    width = encoder.bits // 8
    out = np.zeros((len(values), width), dtype=np.uint8)
    for i, (value, rid) in enumerate(zip(values, record_ids)):
        if value is None:
            continue
        bits = encoder.bloom_filter(field, value)
        if harden:
            bits = encoder.harden(bits, rid, field)
        out[i] = np.frombuffer(bits, dtype=np.uint8)
    return out


def _align(keys: np.ndarray, truth: np.ndarray, register: list[str], top: int) -> dict:
    """Rank the distinct keys (CLKs or patterns) by count, give the i-th the i-th register
    value; a guess is right when it is the commonest clear value behind that key."""
    rows = np.ascontiguousarray(keys)
    rows = rows.view(np.dtype((np.void, rows.shape[1]))).ravel()   # one sortable value per row
    unique, inverse, counts = np.unique(rows, return_inverse=True, return_counts=True)
    inverse = inverse.reshape(-1)
    order = np.argsort(-counts, kind="stable")[:top]
    register_top = set(register[:top])
    right = right_records = narrowed = 0
    first = None
    for rank, key_index in enumerate(order):
        behind = Counter(truth[inverse == key_index].tolist()).most_common(1)[0][0]
        narrowed += behind in register_top
        if rank < len(register) and register[rank] == behind:
            right += 1
            right_records += int(counts[key_index])
            first = rank if first is None else first
    return {"top": top, "distinct_keys": int(len(unique)), "largest_key_count": int(counts.max()),
            "right_guesses": right, "right_share": round(right / top, 4),
            "commonest_key_named": first == 0,
            # weaker but real: the value behind a common key is one of the register's
            # `top` commonest (e.g. "an Arabic surname"), without knowing which
            "behind_in_register_top_share": round(narrowed / top, 4),
            "records_reidentified": right_records, "records_reidentified_share": round(right_records / len(keys), 5)}


_CHUNK = 65536   # rows unpacked at a time: 1M rows x 1,024 bits would be 1 GB unpacked


def bit_share(clks: np.ndarray) -> np.ndarray:
    """Share of records with each bit set."""
    total = np.zeros(clks.shape[1] * 8)
    for start in range(0, len(clks), _CHUNK):
        total += np.unpackbits(clks[start:start + _CHUNK], axis=1).sum(axis=0)
    return total / len(clks)


def bits_at(clks: np.ndarray, positions: np.ndarray) -> np.ndarray:
    """The bits at `positions` of every record, packed (records × ceil(len/8) bytes)."""
    return np.concatenate([np.packbits(np.unpackbits(clks[start:start + _CHUNK], axis=1)[:, positions], axis=1)
                           for start in range(0, len(clks), _CHUNK)])


def register_ranking(values: list[str | None]) -> list[str]:
    return [v for v, _ in Counter(v for v in values if v is not None).most_common()]


def exact_attack(clks: np.ndarray, truth: list, register: list[str], top: int) -> dict:
    return _align(clks, np.asarray(truth, dtype=object), register, top)


def projection_attack(clks: np.ndarray, truth: list, register: list[str], top: int, bits: int,
                      seed: int = 0) -> dict:
    """The exact attack on `bits` bit positions drawn at random among the positions that
    are neither always 0 nor always 1 (an attacker sees which those are)."""
    share = bit_share(clks)
    informative = np.flatnonzero((share > 0.01) & (share < 0.99))
    positions = np.sort(np.random.default_rng(seed).choice(informative, size=min(bits, len(informative)),
                                                           replace=False))
    return {**_align(bits_at(clks, positions), np.asarray(truth, dtype=object), register, top),
            "bits": int(len(positions))}


def projection_attacks(clks: np.ndarray, truth: list, register: list[str], top: int, bits: int,
                       draws: int = 5) -> dict:
    """The projection attack on `draws` independent draws of positions: one draw is luck,
    so the mean and the best draw are reported (an attacker can try many draws, though
    without the truth it cannot tell which one is best)."""
    runs = [projection_attack(clks, truth, register, top, bits, seed) for seed in range(draws)]
    keys = ("right_guesses", "behind_in_register_top_share", "records_reidentified_share")
    return {"bits": bits, "draws": draws,
            "mean": {k: round(float(np.mean([r[k] for r in runs])), 5) for k in keys},
            "best": {k: max(r[k] for r in runs) for k in keys},
            "commonest_key_named_in_draws": sum(bool(r["commonest_key_named"]) for r in runs)}


def bit_frequency(encoder: ClkEncoder, field: str, clks: np.ndarray, register_values: list[str | None],
                  top_qgrams: int = 10, top_bits: int = 100) -> dict:
    """Where the register's commonest q-grams land among the commonest bit positions."""
    from scipy.stats import spearmanr
    from clkhash.bloomfilter import blake_hash_token

    spec = encoder._fields[field]
    grams: Counter = Counter()
    for value in register_values:
        if value is not None:
            grams.update(set(spec.comparator.tokenize(value)))
    frequency = bit_share(clks)
    rank = np.empty(len(frequency), dtype=np.int64)
    rank[np.argsort(-frequency, kind="stable")] = np.arange(len(frequency))
    k = spec.strategy.bits_per_token(1)[0]
    common = grams.most_common(200)
    mean_freq = []
    for gram, _ in common:
        positions = sorted(set(blake_hash_token(gram.encode(spec.encoding), k, bytes(spec.key[0]), encoder.bits)))
        mean_freq.append(float(frequency[positions].mean()))
    top_positions = set()
    for gram, _ in common[:top_qgrams]:
        top_positions |= set(blake_hash_token(gram.encode(spec.encoding), k, bytes(spec.key[0]), encoder.bits))
    in_top = sum(1 for p in top_positions if rank[p] < top_bits)
    return {"qgrams": len(common), "spearman_qgram_count_vs_bit_frequency": round(float(
                spearmanr([c for _, c in common], mean_freq).statistic), 4),
            "top_qgrams": top_qgrams, "their_positions": len(top_positions), "top_bits": top_bits,
            "of_them_among_the_top_bits": in_top,
            "share_of_top_bits_explained": round(in_top / top_bits, 4),
            "bit_frequency_min_max": [round(float(frequency.min()), 4), round(float(frequency.max()), 4)]}
