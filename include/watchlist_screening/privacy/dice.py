"""Dice similarity of CLKs, in Python and in DuckDB SQL.

Dice = 2·|a ∧ b| / (|a| + |b|), the similarity Bloom-filter linkage uses. In DuckDB a CLK
is a BIT value (`pprl_bits(base64)`), and Dice is bit_count over a bitwise AND, so pairs
are scored by the engine, not by a Python function per pair.
"""
from __future__ import annotations

import duckdb

from watchlist_screening.privacy.clk import from_b64

# Macros, created by register(): NULL in, NULL out (an absent field is Splink's null level).
MACROS = (
    "CREATE OR REPLACE MACRO pprl_bits(b64) AS CAST(from_base64(b64) AS BIT)",
    "CREATE OR REPLACE MACRO pprl_dice(a, b) AS "
    "CASE WHEN bit_count(a) + bit_count(b) = 0 THEN 0.0 "
    "ELSE 2.0 * bit_count(a & b) / (bit_count(a) + bit_count(b)) END",
    # best Dice of one CLK against a list (a passenger's name against every alias)
    "CREATE OR REPLACE MACRO pprl_max_dice(clks, b) AS list_max(list_transform(clks, lambda x: pprl_dice(x, b)))",
)


def register(con: duckdb.DuckDBPyConnection) -> None:
    """Create the pprl_bits / pprl_dice / pprl_max_dice macros in `con`."""
    for statement in MACROS:
        con.execute(statement)


def dice_bytes(a: bytes, b: bytes) -> float:
    x, y = int.from_bytes(a, "big"), int.from_bytes(b, "big")
    total = x.bit_count() + y.bit_count()
    return 2.0 * (x & y).bit_count() / total if total else 0.0


def dice(a_b64: str, b_b64: str) -> float:
    """Dice similarity of two base64 CLKs (0.0 when both are empty)."""
    return dice_bytes(from_b64(a_b64), from_b64(b_b64))


def dice_sql(a: str, b: str) -> str:
    """Dice of two BIT expressions as plain SQL (no macro), for SQL that other tools
    rewrite before DuckDB sees it, such as Splink's comparison levels and blocking rules."""
    return (f"(2.0 * bit_count({a} & {b}) / "
            f"CASE WHEN bit_count({a}) + bit_count({b}) = 0 THEN NULL ELSE bit_count({a}) + bit_count({b}) END)")
