"""The evaluation feature extractors, one module per family, each declaring ``FAMILIES`` (a list of
:class:`~thresher.evaluate.feature_registry.ExtractorFamily`). Imported whenever the command line builds
its options, so light at the top: a builder imports its network when it runs."""
