"""Every workbook Excel wrote in the corpus, through a user's first session.

tests/data/excel-written holds XlsxWriter's comparison corpus (993 files Excel itself
wrote). Each is attached (`init --into`), given a household (`import` of a lots file and
a model portfolio) and rebalanced with offline prices; after every step every XML part
must parse with lxml and every part of the user's must be byte for byte what it was
(tests/io/corpus.py). A workbook the rebalancer cannot handle must be refused with a
sentence, byte-identical. The test suite runs a sample; this runs them all and prints
the table that goes in docs/reliability.md.

    python benchmarks/corpus_run.py [--sample N] [--seed S]
"""

from __future__ import annotations

import argparse
import collections
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the tests' corpus helper

from tests.io.corpus import CORPUS, run_one


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sample", type=int, default=0, help="this many files (0: all)")
    parser.add_argument("--seed", type=int, default=41)
    args = parser.parse_args()
    files = sorted(CORPUS.glob("*.xls[xm]"))
    if args.sample:
        files = sorted(random.Random(args.seed).sample(files, min(args.sample, len(files))))
    counts: collections.Counter[str] = collections.Counter()
    failures: list[str] = []
    seconds: list[float] = []
    started = time.perf_counter()
    for path in files:
        with tempfile.TemporaryDirectory() as folder:
            clock = time.perf_counter()
            outcome = run_one(path, Path(folder))
            seconds.append(time.perf_counter() - clock)
        counts[outcome.status] += 1
        if outcome.status != "clean":
            failures.append(
                f"| {outcome.name} | {outcome.status} | {outcome.step} | {outcome.detail[:160]} |"
            )
    total = time.perf_counter() - started
    print(
        f"{len(files)} workbooks Excel wrote, {total:.0f} s ({statistics.median(seconds):.2f} s median each)"
    )
    print()
    print("| outcome | workbooks |")
    print("|---|---|")
    for status in ("clean", "refused", "broken"):
        print(f"| {status} | {counts[status]} |")
    if failures:
        print()
        print("| workbook | outcome | step | detail |")
        print("|---|---|---|---|")
        print("\n".join(failures))


if __name__ == "__main__":
    main()
