"""The selection methods, one module per family, each declaring ``METHODS`` (a list of
:class:`~thresher.curate.scores.registry.ScoreMethod`) with its options and its scorer.

Every module here is imported whenever the command line builds ``thresher select``'s options, so it
imports nothing heavy: a method names its computation by ``"module:function"`` (in
:mod:`thresher.curate.scores` or :mod:`thresher.curate.gradient_scoring`), imported when it scores. The registry finds the modules itself; a method
outside thresher is one module that ``THRESHER_SCORE_METHODS`` names.
"""
