"""When an evaluation's numbers rest on a poor classifier: the one warning that `evaluate` prints and every
report built on those evaluations repeats (`report`, `report --sweep`).

With ``--features classifier`` the small reference CNN is the feature extractor: FID, KID, precision,
recall, density, coverage, Vendi and memorization distances are all measured in its feature space, and the
class shares and confidence are its predictions. Its held-out accuracy (recorded with every evaluation as
``classifier_holdout_accuracy``) says whether those features mean anything: a 0.59-accurate classifier
gave noise-like samples a precision of 0.95.

Light on purpose (no torch, no matplotlib): the report modules import it.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

# Below this held-out accuracy the evaluation classifier's features and predictions say little (MNIST
# reaches 0.98; real colour and texture data gave 0.67 and 0.77).
TRUSTWORTHY_CLASSIFIER_ACCURACY = 0.9

AFFECTED = (
    "FID, KID, precision/recall, density/coverage, Vendi and memorization distances on its features, "
    "confidence and class shares"
)


def poor_classifier_accuracy(metrics: Mapping[str, Any]) -> float | None:
    """The evaluation classifier's held-out accuracy when it is below the trustworthy level, else None
    (also None when no classifier was used or its accuracy was not measured)."""
    accuracy = metrics.get("classifier_holdout_accuracy")
    if isinstance(accuracy, int | float) and accuracy < TRUSTWORTHY_CLASSIFIER_ACCURACY:
        return float(accuracy)
    return None


def classifier_warning(accuracies: Mapping[str, float]) -> str | None:
    """One warning line for the evaluations (named by the keys) whose classifier is poor, or None."""
    if not accuracies:
        return None
    if len(accuracies) == 1:
        ((who, accuracy),) = accuracies.items()
        subject = f"{who}: the evaluation classifier's held-out accuracy is {accuracy:.2f}"
    else:
        low, high = min(accuracies.values()), max(accuracies.values())
        shown = ", ".join(list(accuracies)[:5]) + (", …" if len(accuracies) > 5 else "")
        subject = (
            f"{len(accuracies)} evaluations ({shown}): the evaluation classifier's held-out accuracy is "
            f"{low:.2f}" + (f"–{high:.2f}" if high > low else "")
        )
    return (
        f"warning: {subject}. Classifier-based metrics ({AFFECTED}) are not trustworthy below "
        f"{TRUSTWORTHY_CLASSIFIER_ACCURACY:g} held-out accuracy"
    )
