"""What the pair model adds to a match request: a micro-benchmark on bench-like texts with
hashing encoders of the real models' dimensions (no model is loaded; what is timed is the
scoring after the encoders).

    python scripts/pair_scoring_speed.py [--companies 5000] [--needs 300] [--repeats 200]

Per request it times, on one thread, with nothing kept between asks (a stored query's first
ask after a write):
- a stored need's first page (candidates, probabilities, explanations) and, inside it, the
  pair model's part (evidence from the passage scores, probabilities);
- a stored company's first page of needs and the pair model's part (each need's evidence
  against the company, the needs' contexts kept);
- a need's context score when it is not kept (one unfiltered candidate search more).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from threadpoolctl import threadpool_limits

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from app.matching.encoders import HashingEncoder  # noqa: E402
from app.matching.engine import MatchEngine  # noqa: E402
from scripts.bench_corpus import company_document, company_record, need_document, need_record, sentence_pools  # noqa: E402


def median_ms(run, repeats: int) -> float:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        run()
        times.append(time.perf_counter() - start)
    return 1000 * float(np.median(times))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--companies", type=int, default=5000)
    parser.add_argument("--needs", type=int, default=300)
    parser.add_argument("--repeats", type=int, default=200)
    args = parser.parse_args()
    rng = np.random.default_rng(1)
    pools = sentence_pools(rng)
    with tempfile.TemporaryDirectory() as folder, threadpool_limits(1):
        engine = MatchEngine(Path(folder), HashingEncoder(384, name="dense"), HashingEncoder(512, name="multi"))
        engine.upsert([company_document(i, company_record(i, pools, rng)) for i in range(1, args.companies + 1)]
                      + [need_document(i, need_record(i, pools, rng)) for i in range(1, args.needs + 1)])
        engine.merge("company")
        engine.merge("need")
        searcher, needs = engine.searcher, engine.snapshot("need")
        need = needs.documents[1].document
        company = engine.snapshot("company").documents[1].document
        engine.match(need, target="company")
        engine.match(company, target="need")  # every need's context kept

        def need_page() -> None:
            engine.forget_materialised()
            engine.match(need, target="company")

        def company_page() -> None:
            engine.forget_materialised()
            engine.match(company, target="need")

        need_view = searcher.query_view(need)
        company_view = searcher.query_view(company)
        assert need_view is not None and company_view is not None
        companies = engine.snapshot("company")
        need_scored = searcher.candidate_scores(need_view, companies, None)
        company_scored = searcher.candidate_scores(company_view, needs, None)

        def need_probabilities() -> None:
            searcher.probabilities(need_view, need_scored, companies, unfiltered=True)

        def company_probabilities() -> None:
            searcher.probabilities(company_view, company_scored, needs)

        def fresh_context() -> None:
            engine.state.pairs._contexts.clear()
            searcher.need_context(needs, 1, needs.documents[1].content_hash)

        print(f"{args.companies} companies, {args.needs} needs; medians of {args.repeats} on one thread")
        print(f"need → companies, first page (nothing kept): {median_ms(need_page, args.repeats):.2f} ms "
              f"({len(need_scored.scores)} candidates)")
        print(f"  of which the pair model's probabilities: {median_ms(need_probabilities, args.repeats):.3f} ms")
        print(f"company → needs, first page (contexts kept): {median_ms(company_page, args.repeats):.2f} ms "
              f"({len(company_scored.scores)} candidates)")
        print(f"  of which the pair model's probabilities: {median_ms(company_probabilities, args.repeats):.3f} ms")
        print(f"a need's context when not kept: {median_ms(fresh_context, args.repeats):.2f} ms")
        engine.close()


if __name__ == "__main__":
    main()
