"""Privacy-preserving mode's figures (issue 17) → bench/results/privacy.json.

1. FEBRL4 linked on CLKs only (evaluation/febrl_encoded.py): F1 of the project's
   Fellegi-Sunter path on Dice levels, beside anonlink's plain Dice threshold at 0.8 on
   the same CLKs; with the shipped hardening and without it.
2. Encoding throughput at the edge: encode_landing on a generated landing directory,
   passengers and the watchlist timed apart (records/s, one process).
3. Frequency attacks (bench/privacy_attack.py) on the name and surname CLKs of a
   generated population (default 1,000,000 people), with and without the hardening;
   the register the attacker ranks by is an independent sample of the same generator.

    python bench/privacy_bench.py [--population 1000000] [--skip-febrl]
"""
from __future__ import annotations

import argparse
import dataclasses
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
import privacy_attack  # noqa: E402  (bench/ is not a package)

from watchlist_screening.privacy import linkage_schema, values  # noqa: E402
from watchlist_screening.privacy.clk import ClkEncoder  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
RESULTS = REPO / "bench" / "results" / "privacy.json"


def _commit() -> str:
    try:
        return subprocess.run(["git", "-C", str(REPO), "rev-parse", "HEAD"], capture_output=True, text=True,
                              check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


def _machine() -> dict:
    model = ""
    try:
        model = next((l.split(":", 1)[1].strip() for l in Path("/proc/cpuinfo").read_text().splitlines()
                      if l.startswith("model name")), "")
    except OSError:
        pass
    return {"cpus": os.cpu_count(), "cpu_model": model, "python": platform.python_version(),
            "platform": platform.platform(), "load_average_at_start": [round(x, 2) for x in os.getloadavg()]}


def febrl_figures(flips: list[float]) -> list[dict]:
    from watchlist_screening.evaluation import febrl_encoded

    out = []
    for flip in flips:
        result = dataclasses.asdict(febrl_encoded.evaluate(febrl_encoded.EncodedFebrlConfig(flip_probability=flip)))
        notes = result.pop("notes")
        result["expected_by_threshold"] = notes.get("expected_by_threshold")
        out.append(result)
        print(f"FEBRL4 encoded, flip {flip}: F1 {result['f1']:.4f} (P {result['precision']:.4f}, "
              f"R {result['recall']:.4f}); anonlink 0.8: P {result['anchor']['precision']:.4f}, "
              f"R {result['anchor']['recall']:.4f}", file=sys.stderr)
    return out


def throughput(passengers_per_airport: int, watchlist_size: int) -> dict:
    from watchlist_screening.privacy.encode import encode_landing

    day = "2026-11-01"
    with tempfile.TemporaryDirectory(prefix="privacy-bench-") as tmp:
        src = Path(tmp) / "clear"
        subprocess.run([sys.executable, "-m", "watchlist_screening.generator", "--landing-dir", str(src),
                        "--date", day, "--watchlist-size", str(watchlist_size), "--airports", "LHR,CDG",
                        "--passengers-per-airport", str(passengers_per_airport), "--sightings", "50",
                        "--bad-lines", "20", "--seed", "17"], check=True, capture_output=True)
        secret = os.urandom(32)
        out = {}
        workers = os.cpu_count() or 1
        for part, kwargs in (("watchlist", {"days": [], "watchlist": True}),
                             ("passengers", {"days": [day], "watchlist": False}),
                             (f"passengers_{workers}_workers", {"days": [day], "watchlist": False,
                                                                "workers": workers})):
            cpu = time.process_time()
            summary = encode_landing(src, Path(tmp) / f"encoded-{part}", secret, **kwargs)
            cpu = time.process_time() - cpu
            out[part] = {"records": summary["encoded"], "rejected": summary["rejected"],
                         "seconds": summary["seconds"], "records_per_second": summary["records_per_second"],
                         # this process's CPU only: with workers, theirs is not in it
                         "cpu_seconds": round(cpu, 2),
                         "records_per_cpu_second": round(summary["encoded"] / cpu, 1) if "workers" not in kwargs
                         else None,
                         "load_average_after": [round(x, 2) for x in os.getloadavg()],
                         "bytes_in": sum((src / f["file"]).stat().st_size for f in summary["files"]),
                         "bytes_out": sum(Path(f["out"]).stat().st_size for f in summary["files"])}
            print(f"encode {part}: {out[part]['records_per_second']} records/s", file=sys.stderr)
    return {"what": "encode_landing (read, validate, 5 CLKs + face template per record, write); one process "
                    "unless named with workers (the machine's other load shares the cores)",
            "passengers_per_airport": passengers_per_airport, "airports": 2, "watchlist_size": watchlist_size, **out}


def population(n: int, seed: int) -> tuple[list[str | None], list[str | None]]:
    """(full names, surnames) of n generated people, normalised as the encoder does."""
    from watchlist_screening.generator.people import sample_people

    people = sample_people(np.random.default_rng(seed), n, np.datetime64("2026-11-01"), adults=False)
    given, surnames = people.latin_names()
    return ([values.full_name(g, s) for g, s in zip(given, surnames)], [values.surname(s) for s in surnames])


def frequency_attacks(n: int, top: int, projection_bits: int) -> dict:
    start = time.perf_counter()
    names, surnames = population(n, seed=1)
    register_names, register_surnames = population(n, seed=2)
    schema = linkage_schema.current()
    encoder = ClkEncoder(schema, os.urandom(32))
    ids = [f"P{i}" for i in range(n)]
    out: dict = {"population": n, "register": f"an independent sample of {n} from the same generator",
                 "flip_probability": schema.hardening.flip_probability, "fields": {}}
    for field, clear, register_values in (("surname", surnames, register_surnames),
                                          ("name", names, register_names)):
        register = privacy_attack.register_ranking(register_values)
        truth_distinct = len(set(v for v in clear if v is not None))
        common = set(register[:top])
        # what "behind_in_register_top_share" is worth by chance: the share of people whose
        # value is one of the register's `top` commonest
        field_out = {"distinct_clear_values": truth_distinct,
                     "chance_behind_in_register_top_share": round(sum(v in common for v in clear) / n, 4)}
        for harden in (False, True):
            t = time.perf_counter()
            clks = privacy_attack.clk_matrix(encoder, field, clear, ids, harden)
            encode_seconds = time.perf_counter() - t
            label = "hardened" if harden else "unhardened"
            field_out[label] = {
                "encode_records_per_second": round(n / encode_seconds, 1),
                "exact_clk_attack": privacy_attack.exact_attack(clks, clear, register, top),
                "projection_attack": privacy_attack.projection_attacks(clks, clear, register, top, projection_bits),
                "bit_frequency": privacy_attack.bit_frequency(encoder, field, clks, register_values),
            }
            print(f"{field} {label}: exact {field_out[label]['exact_clk_attack']['right_share']}, projection "
                  f"{field_out[label]['projection_attack']['mean']}", file=sys.stderr)
            del clks
        out["fields"][field] = field_out
    out["seconds"] = round(time.perf_counter() - start, 1)
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--population", type=int, default=1_000_000)
    parser.add_argument("--top", type=int, default=100, help="commonest CLKs the attacker tries to name")
    parser.add_argument("--projection-bits", type=int, default=32)
    parser.add_argument("--passengers-per-airport", type=int, default=25_000)
    parser.add_argument("--watchlist-size", type=int, default=20_000)
    parser.add_argument("--skip-febrl", action="store_true")
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args(argv)
    schema = linkage_schema.current()
    results: dict = {"commit": _commit(), "date": datetime.now(timezone.utc).isoformat(timespec="seconds"),
                     "machine": _machine(), "linkage_schema": schema.encoding,
                     "flip_probability": schema.hardening.flip_probability}
    if not args.skip_febrl:
        results["febrl4_encoded"] = febrl_figures([schema.hardening.flip_probability, 0.0])
    results["encoding_throughput"] = throughput(args.passengers_per_airport, args.watchlist_size)
    results["frequency_attack"] = frequency_attacks(args.population, args.top, args.projection_bits)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(results, indent=2) + "\n")
    print(f"wrote {args.out}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
