"""The catalog layer: the workspace's folders and DuckDB catalog, under every stage. Only this package
runs SQL (``benchmarks/import_graph.py`` checks it); see docs/architecture.md, 'Layers' and 'Workspace'.

- The workspace: ``workspace`` (folders, connections, migrations), ``names``, ``tables`` (named-column
  access), ``staging`` (folders renamed into place), ``snapshot`` (read-only copies the service reads),
  ``part_files`` (atomic part writes and their markers), ``config`` (ingest, query and status requests).
- Sources: ``ingest``, ``source_loaders`` (Hub, folder, Parquet, built-ins), ``sources``, ``samples``
  (rows, ok ids, labels, images), ``row_pixels``, ``hub`` (the Hub side of publishing).
- What stages record: ``runs``, ``scores`` (the score store), ``embeddings`` (the embedding store),
  ``subsets`` and ``subset_versions``, ``evaluations``, ``sweeps``, ``image_store`` and
  ``image_store_build`` (decoded pixels and latents, by part).
- Changing it by hand: ``removal`` (`thresher rm`) and ``subset_rename`` (`thresher mv`).
- Reading it: ``query`` (+ ``query_access``, ``query_views``), ``status``, ``browse`` and
  ``score_summaries`` (the service's pages).
"""
