"""Conditioning on k-means clusters: labels come from a clustering run, sampling follows the training mix."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from thresher.catalog.scores import score_run, score_table, write_score_part
from thresher.curate.config import SelectConfig
from thresher.curate.scores.random_order import random_scores_run
from thresher.curate.select import select
from thresher.dataset_resolution import resolve_dataset
from thresher.errors import ThresherError
from thresher.train.conditioning import cluster_labels, label_counts, prior_labels
from thresher.train.config import TrainConfig, TrainRunConfig
from thresher.train.sampling import generate, load_run_model, resolve_labels
from thresher.train.train_run import run_training

TINY = dict(model_size="DiT-T/4", width=32, depth=1, heads=2, sample_count=0, checkpoint_every=1000)


def test_prior_labels_follow_the_counts_exactly_in_a_seeded_order():
    labels = prior_labels([50, 30, 20, 0], 20, seed=0)
    assert torch.bincount(labels, minlength=4).tolist() == [10, 6, 4, 0]
    assert torch.equal(labels, prior_labels([50, 30, 20, 0], 20, seed=0))
    assert not torch.equal(labels, prior_labels([50, 30, 20, 0], 20, seed=1))
    # Largest remainder: 7 over three equal counts gives 3, 2, 2 (no class off by more than one).
    assert sorted(torch.bincount(prior_labels([1, 1, 1], 7, seed=3)).tolist()) == [2, 2, 3]
    with pytest.raises(ThresherError, match="cannot sample"):
        prior_labels([0, 0], 5, seed=0)


def test_resolve_labels_prior_needs_the_training_counts():
    assert torch.bincount(resolve_labels("prior", 10, 2, counts=[9, 1])).tolist() == [9, 1]
    assert resolve_labels("prior", 10, None) is None  # an unconditional model ignores it
    with pytest.raises(ThresherError, match="frequencies"):
        resolve_labels("prior", 10, 2)


def test_cluster_labels_read_the_clustering_run(clustered):
    resolved = resolve_dataset(clustered, "mnist-lt")
    labels, k = cluster_labels(clustered, "cluster-test", "mnist-lt", resolved.sample_ids)
    with clustered.connect(read_only=True) as con:
        true = con.execute(
            "SELECT label FROM samples WHERE source = 'mnist-lt' AND status = 'ok' ORDER BY sample_id"
        ).fetchnumpy()["label"]
    assert k == 10 and np.array_equal(labels.numpy(), true)  # the fake clustering's clusters are the labels
    assert label_counts(labels, k)[0] == 500 and label_counts(labels, k)[9] == 25


def test_bad_clusterings_are_one_line_errors(clustered):
    ids = resolve_dataset(clustered, "mnist-lt").sample_ids
    with pytest.raises(ThresherError, match="no finished run"):
        cluster_labels(clustered, "nope", "mnist-lt", ids)
    random_run = random_scores_run(clustered, "mnist-lt", seed=0)
    with pytest.raises(ThresherError, match="not a clustering"):
        cluster_labels(clustered, random_run, "mnist-lt", ids)
    with pytest.raises(ThresherError, match="dataset comes from"):
        cluster_labels(clustered, "cluster-test", "other-source", ids)
    partial = ids[:100]
    with score_run(clustered, "cluster-partial", "cluster", "mnist-lt", {"k": 10}) as folder:
        write_score_part(
            folder, score_table(partial, "cluster", score=np.zeros(100), cluster=np.zeros(100, int))
        )
    with pytest.raises(ThresherError, match="no cluster to 1603 training rows"):
        cluster_labels(clustered, "cluster-partial", "mnist-lt", ids)


def test_a_cluster_conditioned_run_samples_its_training_mix(clustered, tmp_path):
    select(clustered, SelectConfig(name="eq", method="cluster", balance="equal"))  # 25 rows per cluster
    config = TrainRunConfig(
        dataset="eq@v1", train=TrainConfig(steps=2, batch_size=50, **TINY), clusters="cluster-test"
    )
    outcome = run_training(clustered, config)
    payload = json.loads((outcome.result.run_dir / "model.json").read_text())
    assert payload["condition"] == "clusters:cluster-test"
    assert payload["label_counts"] == [25] * 10  # equal selection: 25 rows of every cluster
    run = load_run_model(outcome.result.run_dir)
    assert run.num_classes == 10 and run.label_counts == [25] * 10
    assert generate(run, 4, seed=0, steps=1).shape == (4, 28, 28, 1)  # "auto" draws from the prior
    with pytest.raises(ThresherError, match="not unconditional"):
        run_training(
            clustered,
            TrainRunConfig(
                dataset="eq@v1",
                train=TrainConfig(steps=1, batch_size=50, unconditional=True, **TINY),
                clusters="cluster-test",
            ),
        )


def test_clusters_latest_is_the_subsets_own_clustering_not_a_later_one(clustered):
    """A subset selected on one clustering must not silently train on a later clustering of its source."""
    from tests.conftest import fake_clustering
    from thresher.train.training_data import load_training_set

    select(
        clustered,
        SelectConfig(name="eq", method="cluster", balance="equal", ratio=0.5, clustering="cluster-test"),
    )
    later = fake_clustering(clustered, "mnist-lt", run_id="cluster-later", seed=5)
    resolved = resolve_dataset(clustered, "eq@v1")
    assert resolved.clustering == "cluster-test"
    data = load_training_set(clustered, resolved, clusters="latest")
    assert data.condition == "clusters:cluster-test" != f"clusters:{later}"
    # A whole source has no clustering of its own: latest is then the source's most recent one.
    whole = load_training_set(clustered, resolve_dataset(clustered, "mnist-lt"), clusters="latest")
    assert whole.condition == f"clusters:{later}"
