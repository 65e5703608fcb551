"""How much of what people wrote survives mail-to-text, and how much quoted text leaks through.

    python -m benchmarks.mail_quality [--corpus tests/data/mail/quality] [--languages en] [-v]

Runs every message of the text-quality corpus (see tests/data/mail/quality/make_quality.py)
through the mail converter with the connector's default settings (a case may name its own
reply_languages) and prints, per category:
fragments kept of those that must be kept, fragments leaked of those that must be gone, and
fragments lost (the keep fragments missing, a message skipped that should not be, or one sent
that should be skipped). ``-v`` lists every miss. To compare with an older checkout, run this
file from it with ``--corpus`` pointing at this corpus.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bridge.errors import SkipItem  # noqa: E402
from connectors.mail.text import email_to_conversation  # noqa: E402


def score(corpus: Path, languages: tuple[str, ...]) -> tuple[dict[str, dict[str, int]], list[str]]:
    totals: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    misses: list[str] = []
    for case in json.loads((corpus / "expected.json").read_text(encoding="utf-8")):
        raw = (corpus / f"{case['name']}.eml").read_bytes()
        counts = totals[case["category"]]
        counts["messages"] += 1
        try:
            text = email_to_conversation(raw, reply_languages=case.get("languages") or languages).text
        except SkipItem as exc:
            text, reason = None, exc.reason
        if case["skip"]:
            counts["keep"] += 1
            if text is None and reason.startswith(case["skip"]):
                counts["kept"] += 1
            else:
                counts["lost"] += 1
                misses.append(f"{case['name']}: sent, or skipped for another reason; expected skip {case['skip']!r}")
            continue
        counts["keep"] += len(case["keep"])
        counts["gone"] += len(case["gone"])
        if text is None:
            counts["lost"] += len(case["keep"])
            misses.append(f"{case['name']}: skipped ({reason})")
            continue
        for fragment in case["keep"]:
            if fragment in text:
                counts["kept"] += 1
            else:
                counts["lost"] += 1
                misses.append(f"{case['name']}: lost {fragment!r}")
        for fragment in case["gone"]:
            if fragment in text:
                counts["leaked"] += 1
                misses.append(f"{case['name']}: leaked {fragment!r}")
    return totals, misses


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--corpus", type=Path, default=ROOT / "tests" / "data" / "mail" / "quality")
    parser.add_argument("--languages", default="en", help="reply_languages, comma-separated")
    parser.add_argument("-v", "--verbose", action="store_true")
    args = parser.parse_args()
    totals, misses = score(args.corpus, tuple(args.languages.split(",")))
    print(f"{'category':24} {'messages':>8} {'kept':>10} {'leaked':>10} {'lost':>6}")
    overall: dict[str, int] = defaultdict(int)
    for category, counts in totals.items():
        for key, value in counts.items():
            overall[key] += value
        print(f"{category:24} {counts['messages']:>8} {counts['kept']:>4}/{counts['keep']:<5} "
              f"{counts['leaked']:>4}/{counts['gone']:<5} {counts['lost']:>6}")
    print(f"{'all':24} {overall['messages']:>8} {overall['kept']:>4}/{overall['keep']:<5} "
          f"{overall['leaked']:>4}/{overall['gone']:<5} {overall['lost']:>6}")
    if args.verbose:
        print("\n".join(misses))


if __name__ == "__main__":
    main()
