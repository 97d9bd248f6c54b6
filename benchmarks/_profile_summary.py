"""Summarize a py-spy raw profile (`--profile` output in benchmarks/results/).

Each line of the file is one stack, frames separated by ';', then its sample count. Prints the
frames with the most samples of their own (self) and with their callees (inclusive), as a
share of all samples.

    .venv/bin/python benchmarks/_profile_summary.py benchmarks/results/webhook_load-serve-*.txt
"""

from __future__ import annotations

import argparse
from collections import Counter
from pathlib import Path


def summarize(path: Path, top: int, match: str | None) -> None:
    own: Counter[str] = Counter()
    inclusive: Counter[str] = Counter()
    total = 0
    for line in path.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        if not stack or not count.isdigit():
            continue
        n = int(count)
        frames = stack.split(";")
        total += n
        own[frames[-1]] += n
        for frame in set(frames):
            inclusive[frame] += n
    print(f"{path}: {total} samples")
    for title, counter in (("self", own), ("inclusive", inclusive)):
        print(f"--- {title}")
        shown = 0
        for frame, n in counter.most_common():
            if match and match not in frame:
                continue
            print(f"{n / max(1, total) * 100:5.1f}%  {frame}")
            shown += 1
            if shown >= top:
                break


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("files", nargs="+", type=Path)
    p.add_argument("--top", type=int, default=25, help="frames per list (25)")
    p.add_argument("--match", help="only frames containing this text, e.g. adapters/")
    args = p.parse_args()
    for path in args.files:
        summarize(path, args.top, args.match)


if __name__ == "__main__":
    main()
