"""Per-sample scores (docs/architecture.md, "Scores"): the methods are declared in
:mod:`thresher.curate.scores.methods` (one module per family, found by :mod:`~thresher.curate.scores.registry`);
the modules here compute them.

The computations work on arrays (embeddings, cluster ids, losses) and return per-sample arrays; the
workspace layer writes them as long-form Parquet (``sample_id, method, score, cluster, distance, rank``).
"""
