"""thresher: dataset curation for generative image models."""

__version__ = "0.1.0"
