"""Owner-side re-identification: from an alert's scan_id (the airport) or subject_id
(the watchlist's agency) back to the clear record, in the owner's own clear files.

    python -m watchlist_screening.privacy.lookup --landing-dir CLEAR --scan-id ID [--date YYYY-MM-DD]
    python -m watchlist_screening.privacy.lookup --landing-dir CLEAR --subject-id ID
    ... [--secret-file F --encoded-dir ENC]   also check the encoded line re-encodes from it

Ids travel in clear, so no key is needed to look up; with the key and the encoded
landing it also proves the alerted encoded line was made from this clear record (not
from a repeated scan_id of another line). Prints one JSON object per match (file, line,
record); exit status 1 when nothing matches.
"""
from __future__ import annotations

import argparse
import gzip
import json
import sys
from collections.abc import Iterator
from pathlib import Path

from watchlist_screening.privacy import keys
from watchlist_screening.privacy.records import EncodingError, encode_passenger, encode_watchlist_entry

WATCHLIST = Path("watchlist") / "watchlist.jsonl"


def _jsonl_files(landing_dir: Path, id_field: str, day: str | None) -> list[Path]:
    if id_field == "subject_id":
        return [landing_dir / WATCHLIST]
    days = [landing_dir / "passengers" / day] if day else sorted((landing_dir / "passengers").glob("*"))
    return [f for d in days if d.is_dir() for f in sorted(d.iterdir())
            if f.name.endswith((".jsonl", ".jsonl.gz")) and not f.is_symlink()]


def _records(path: Path) -> Iterator[tuple[int, dict]]:
    opener = gzip.open if path.name.endswith(".gz") else open
    try:
        with opener(path, "rb") as lines:
            for number, raw in enumerate(lines, start=1):
                try:
                    value = json.loads(raw)
                except ValueError:
                    continue   # a bad line was reported when it was encoded; it has no alert
                if isinstance(value, dict):
                    yield number, value
    except (OSError, EOFError):
        return   # a damaged file: the lines before the damage were searched


def find(landing_dir: str | Path, *, scan_id: str | None = None, subject_id: str | None = None,
         day: str | None = None) -> list[dict]:
    """Every clear record with that id: [{"file", "line", "record"}] (a scan_id may repeat)."""
    if (scan_id is None) == (subject_id is None):
        raise ValueError("give exactly one of scan_id and subject_id")
    id_field, wanted = ("scan_id", scan_id) if scan_id is not None else ("subject_id", subject_id)
    root = Path(landing_dir)
    found = []
    for path in _jsonl_files(root, id_field, day):
        for number, record in _records(path):
            if record.get(id_field) == wanted:
                found.append({"file": path.relative_to(root).as_posix(), "line": number, "record": record})
    return found


def verify(match: dict, encoded_dir: str | Path, secret: bytes) -> bool:
    """True when the encoded landing holds exactly the line this clear record encodes to."""
    record = match["record"]
    id_field = "subject_id" if "subject_id" in record else "scan_id"
    try:
        expected = (encode_watchlist_entry if id_field == "subject_id" else encode_passenger)(record, secret)
    except EncodingError:
        return False
    encoded_file = Path(encoded_dir) / match["file"]
    return any(line == expected for _, line in _records(encoded_file) if line.get(id_field) == record[id_field])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m watchlist_screening.privacy.lookup",
                                     description="Print the clear record behind an alert's scan_id or subject_id.")
    parser.add_argument("--landing-dir", required=True, help="the owner's clear landing directory")
    which = parser.add_mutually_exclusive_group(required=True)
    which.add_argument("--scan-id")
    which.add_argument("--subject-id")
    parser.add_argument("--date", help="the passenger day (YYYY-MM-DD) to search; default: every day")
    parser.add_argument("--secret-file", help="with --encoded-dir: check the encoded line re-encodes from the record")
    parser.add_argument("--encoded-dir")
    args = parser.parse_args(argv)
    if bool(args.secret_file) != bool(args.encoded_dir):
        parser.error("--secret-file and --encoded-dir go together")
    try:
        secret = keys.load_secret(args.secret_file) if args.secret_file else None
    except keys.SecretKeyError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    matches = find(args.landing_dir, scan_id=args.scan_id, subject_id=args.subject_id, day=args.date)
    for match in matches:
        if secret is not None:
            match["encoded_line_matches"] = verify(match, args.encoded_dir, secret)
        print(json.dumps(match, ensure_ascii=False))
    if not matches:
        print(f"no clear record with {'scan_id' if args.scan_id else 'subject_id'} "
              f"{args.scan_id or args.subject_id!r} in {args.landing_dir}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
