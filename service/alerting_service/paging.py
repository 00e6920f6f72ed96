"""Pages of a listing, the same for REST (a Link rel="next" header) and gRPC (a page token):
one row more than asked tells whether a next page exists without a COUNT."""
from __future__ import annotations

from typing import Any, TypeVar

from fastapi import Request, Response

# Reading a whole day is one call for contract consumers; a day has far fewer alerts than
# this, and the next-page link or token says when a page was cut short.
MAX_PAGE = 10_000
# Far beyond any real table, and inside PostgreSQL's bigint.
MAX_OFFSET = 2**31 - 1
MAX_CURSOR = 2**63 - 1

Row = TypeVar("Row")


def over_fetch(limit: int) -> int:
    """How many rows to ask the store for, to learn whether a page of `limit` is the last."""
    return limit + 1


def cut(rows: list[Row], limit: int) -> tuple[list[Row], bool]:
    """The page itself, and whether more rows follow it."""
    return (rows[:limit], True) if len(rows) > limit else (rows, False)


def link_next(request: Request, response: Response, **params: Any) -> None:
    """RFC 8288 Link header to the next page: this request with `params` replaced."""
    next_query = request.url.include_query_params(**params).query
    response.headers["Link"] = f'<{request.url.path}?{next_query}>; rel="next"'
