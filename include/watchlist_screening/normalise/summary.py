"""The run summary (last stdout line, the day_runs counts) and the on-call message."""
from __future__ import annotations

from collections import Counter
from dataclasses import asdict, dataclass

from watchlist_screening.normalise.landing import LandingFile, RejectedEntry
from watchlist_screening.normalise.publish import Duplicate
from watchlist_screening.normalise.staging import FileStats


@dataclass(frozen=True)
class FileSummary:
    file: str
    lines: int
    passengers: int
    quarantined: int
    quarantined_by_reason: dict[str, int]


@dataclass(frozen=True)
class DaySummary:
    date: str
    watchlist_version: int
    passengers: int
    quarantined: int
    quarantined_by_reason: dict[str, int]
    files: list[FileSummary]

    @property
    def lines(self) -> int:
        return self.passengers + self.quarantined

    def as_json(self) -> dict:
        return asdict(self)


def file_summaries(files: list[LandingFile], stats: list[FileStats], duplicates: list[Duplicate],
                   duplicate_reason: str, rejected: list[RejectedEntry] = ()) -> list[FileSummary]:
    """Per file: lines read, and how many became passengers or were quarantined (why);
    an entry that was not read counts as one quarantined entry of no lines. By name."""
    summaries = []
    for file in files:
        reasons: Counter[str] = Counter()
        good = 0
        for s in stats:
            if s.source_file == file.relative:
                if s.reason is None:
                    good += s.lines
                else:
                    reasons[s.reason] += s.lines
        for d in duplicates:
            if d.source_file == file.relative:
                good -= 1
                reasons[duplicate_reason] += 1
        lines = good + sum(reasons.values())
        summaries.append(FileSummary(file.relative, lines, good, sum(reasons.values()), dict(sorted(reasons.items()))))
    summaries += [FileSummary(entry.relative, 0, 0, 1, {entry.reason: 1}) for entry in rejected]
    return sorted(summaries, key=lambda s: s.file)


def quarantine_alarm(summary: DaySummary, max_share: float) -> str | None:
    """What on-call needs when too many lines were quarantined, else None."""
    if not summary.lines or summary.quarantined / summary.lines <= max_share:
        return None
    by_count = sorted(summary.quarantined_by_reason.items(), key=lambda item: (-item[1], item[0]))
    reasons = ", ".join(f"{reason}={count}" for reason, count in by_count)
    worst = max(summary.files, key=lambda f: (f.quarantined, f.quarantined / max(f.lines, 1)))
    return (
        f"normalise_day {summary.date}: {summary.quarantined} of {summary.lines} passenger lines quarantined "
        f"({summary.quarantined / summary.lines:.1%}), above the allowed {max_share:.1%}. "
        f"By reason: {reasons}. Worst file: {worst.file} ({worst.quarantined} of {worst.lines} lines, "
        f"{worst.quarantined_by_reason}). Everything was written: see warehouse.quarantine "
        f"WHERE dataset = 'passengers' AND scan_day = '{summary.date}' (raw_text, reason, detail), "
        f"fix or re-deliver the file, then re-run the day."
    )
