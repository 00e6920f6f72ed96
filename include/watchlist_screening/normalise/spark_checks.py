"""Spark validation of JSONL lines against contract.py, in two tiers, because nearly every
line is good and naming a problem costs far more than confirming there is none:

1. Every line, native Spark: one `from_json` with typed fields and a single boolean,
   `_fast_valid`, true only for lines that honour the contract (it may leave an odd good
   line to tier 2, never let a bad one through). Free-text and id fields are parsed as
   VARIANT, since from_json silently turns a number sent for a string into text; for
   codes, enums and dates that text can never pass the format check, so they are plain
   strings. The embedding is ARRAY<DOUBLE> (a non-number fails the parse).
2. Lines tier 1 did not pass: the Python reference validator (validate.check_line)
   decides and names the first problem (finish.py, in the Arrow writer), so Spark and
   Python cannot word a problem differently, and the plan Spark compiles for every line
   stays small.

Values of good lines are typed once, in `_val_<field>` columns (`typed_value`).
"""
from __future__ import annotations

from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F

from watchlist_screening.normalise import contract as c
from watchlist_screening.normalise.contract import Field, Kind
from watchlist_screening.normalise.rules import DATE_PATTERN, DATE_TIME_PATTERN
from watchlist_screening.normalise.validate import BOM

# Jackson defaults that JSON (and Python's json module) do not allow.
STRICT_JSON = {"allowSingleQuotes": "false", "allowNonNumericNumbers": "false", "mode": "PERMISSIVE",
               "columnNameOfCorruptRecord": "_corrupt"}
_VARIANT_KINDS = (Kind.ID, Kind.STRING, Kind.ALIASES)
# Embedding values whose squares can neither overflow nor vanish, however summed.
_SAFE_MAGNITUDE = (1e-150, 1e150)


def parse_date(text: Column) -> Column:
    """rules.parse_full_date in Spark: NULL unless a real YYYY-MM-DD day in years 1-9999."""
    day = F.try_to_date(text, "yyyy-MM-dd")
    return F.when(text.rlike(f"^{DATE_PATTERN}$") & (day >= F.lit("0001-01-01").cast("date")), day)


def parse_timestamp(text: Column) -> Column:
    """rules.parse_date_time in Spark: NULL unless an RFC 3339 date-time with offset."""
    return F.when(text.rlike(f"^{DATE_TIME_PATTERN}$"), F.upper(text).try_cast("timestamp"))


def is_json_string(value: Column) -> Column:
    return F.schema_of_variant(value) == "STRING"


def _fast_schema(fields: tuple[Field, ...]) -> str:
    def spark_type(field: Field) -> str:
        if field.kind in _VARIANT_KINDS:
            return "variant"
        return {Kind.NUMBER: "double", Kind.EMBEDDING: "array<double>"}.get(field.kind, "string")
    return "struct<" + ", ".join([f"{f.name} {spark_type(f)}" for f in fields] + ["_corrupt string"]) + ">"


def _raw(field: Field) -> Column:
    return F.col(f"_j.{field.name}")


def typed_value(field: Field) -> Column:
    """The field of a line, typed: string, date, timestamp, double, array<double> or, for
    aliases, VARIANT. Meaningful for good lines."""
    return F.col(f"_val_{field.name}")


def _typed(field: Field) -> Column:
    raw = _raw(field)
    if field.kind in (Kind.ID, Kind.STRING):
        # VARIANT → string builds a Cast expression per value: done once, here.
        return F.try_variant_get(raw, "$", "string")
    if field.kind is Kind.DATE:
        return parse_date(raw)
    if field.kind is Kind.DATETIME:
        return parse_timestamp(raw)
    return raw


def _alias_ok(alias: Column) -> Column:
    def part(name: str) -> Column:
        return F.try_variant_get(alias, f"$.{name}", "variant")
    birth = part("date_of_birth")
    birth_ok = (birth.isNull() | F.is_variant_null(birth)
                | (is_json_string(birth) & parse_date(F.try_variant_get(birth, "$", "string")).isNotNull()))
    return (F.schema_of_variant(alias).startswith("OBJECT") & is_json_string(part("given_names"))
            & is_json_string(part("surname")) & birth_ok)


def _embedding_ok(vector: Column) -> Column:
    # Native array functions, not lambdas (which box every element). Values beyond the
    # safe magnitudes are left to tier 2, which measures the length exactly.
    peak = F.greatest(F.abs(F.array_min(vector)), F.abs(F.array_max(vector)))
    low, high = _SAFE_MAGNITUDE
    return ((F.size(vector) == c.EMBEDDING_SIZE) & (F.size(F.array_compact(vector)) == c.EMBEDDING_SIZE)
            & (peak > low) & (peak < high))


def _field_ok(field: Field) -> Column:
    """The contract's rules for one field that is present and not null."""
    raw, value = _raw(field), typed_value(field)
    if field.kind is Kind.ID:
        return is_json_string(raw) & (value != "")
    if field.kind is Kind.STRING:
        return is_json_string(raw)
    if field.kind is Kind.ALIASES:
        aliases = F.try_variant_get(raw, "$", "array<variant>")
        return aliases.isNotNull() & F.forall(aliases, _alias_ok)
    if field.kind is Kind.CODE:
        return value.rlike(c.CODE_PATTERN)
    if field.kind is Kind.ENUM:
        return value.isin(*field.choices)
    if field.kind in (Kind.DATE, Kind.DATETIME):
        return value.isNotNull()
    if field.kind is Kind.NUMBER:
        return value.between(*field.value_range)
    return _embedding_ok(value)


def _fast_valid(fields: tuple[Field, ...]) -> Column:
    valid = F.col("_utf8") & F.col("_one_value") & F.col("_j").isNotNull() & F.col("_j._corrupt").isNull()
    for field in fields:
        present = _raw(field).isNotNull()
        if field.kind in _VARIANT_KINDS:
            present = present & ~F.is_variant_null(_raw(field))   # an optional null counts as absent
        ok = _field_ok(field)
        valid = valid & (present & ok if field.required else ~present | ok)
    # A NULL anywhere (say, a null in the embedding) means not proven good.
    return F.coalesce(valid, F.lit(False))


def _parse(lines: DataFrame, fields: tuple[Field, ...]) -> DataFrame:
    text = F.when(F.startswith("raw_text", F.lit(BOM)), F.substring("raw_text", 2, 1 << 30)).otherwise(F.col("raw_text"))
    # from_json stops after the first JSON value, so a line with trailing garbage or two
    # glued records would pass; json_array_length on `[line]` rejects those. Only lines
    # with a '}' before their end can have them (byte offsets: counting characters would
    # cost another pass over the line).
    first_close_ends_line = F.octet_length(F.substring_index(text, "}", 1)) + 1 == F.octet_length(F.rtrim(text))
    one_value = (F.when(first_close_ends_line, True)
                 .otherwise(F.coalesce(F.json_array_length(F.concat(F.lit("["), text, F.lit("]"))) == 1, F.lit(False))))
    parsed = lines.withColumns({
        "_j": F.from_json(text, _fast_schema(fields), STRICT_JSON),
        "_one_value": one_value,
        "_utf8": F.is_valid_utf8("raw_text"),   # a scan of the line: once
    })
    return parsed.withColumns({f"_val_{f.name}": _typed(f) for f in fields})


def check(lines: DataFrame, fields: tuple[Field, ...]) -> DataFrame:
    """`lines` plus `_fast_valid` (tier 1), `_utf8`, `_parsed` (from_json could read the
    line) and the typed values `_val_<field>`."""
    parsed = _parse(lines, fields)
    return parsed.withColumns({
        "_fast_valid": _fast_valid(fields),
        "_parsed": F.col("_j").isNotNull() & F.col("_j._corrupt").isNull(),
    })
