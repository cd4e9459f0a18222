"""The selection methods, one module per family, each declaring ``METHODS`` (a list of
:class:`~thresher.curate.scores.registry.ScoreMethod`) with its options and its scorer.

Every module here is imported whenever the command line builds ``thresher select``'s options, so it
imports nothing heavy at the top: a scorer imports its computation (in :mod:`thresher.curate.scores` or
:mod:`thresher.curate.gradient_scoring`) when it runs. The registry finds the modules itself; a method
outside thresher is one module that ``THRESHER_SCORE_METHODS`` names.
"""
