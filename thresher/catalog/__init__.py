"""The catalog layer: the workspace's folders and DuckDB catalog, under every stage.

Modules: ``workspace`` (folders, connections, migrations, names), ``tables`` (named-column access),
``runs`` (start/finish/latest/lookup by config hash), ``samples`` (a source's rows, ok ids, labels, images),
``source_loaders`` (Hub, folder, Parquet and built-in sources), ``scores`` (the score store),
``embeddings`` (the embedding store), ``subsets``, ``query``, ``status``, ``removal`` (`thresher rm`) and
``subset_rename`` (`thresher mv`). See docs/architecture.md.
"""
