"""Per-sample scores, one module per method family (docs/architecture.md, "Scores").

Each module works on arrays (embeddings, cluster ids, losses) and returns per-sample arrays; the
workspace layer writes them as long-form Parquet (``sample_id, method, score, cluster, distance, rank``).
"""
