"""Which kept image each row removed as a duplicate matched, and the matches that cross labels.

Dedup (SemDeDup) records, for every row it drops, the kept row it is most like (the score run's
``matches.parquet``). A selection by it writes those pairs into the version folder as
``duplicates.parquet`` and says how many cross labels, with examples: a removed row whose label differs
from its match's is rarely a true duplicate (a white-on-transparent bolt that composites to a blank image
matched a letter), so a curator looks before trusting the removal. Pairs where either image was flagged
``blank`` at ingest are counted too.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from thresher.catalog.samples import flagged_ids, label_names, labels_of
from thresher.catalog.scores import score_matches
from thresher.catalog.workspace import Workspace

DUPLICATES_FILE = "duplicates.parquet"  # in the subset's version folder
EXAMPLES = 5  # cross-label pairs printed (all are in the file)


@dataclass
class DuplicateReport:
    removed: int  # rows the selection removed that duplicate a kept row
    cross_label: int  # of them, those whose label differs from their match's
    blank: int  # of them, those where either image was flagged blank at ingest
    examples: list[dict[str, Any]] = field(default_factory=list)  # cross-label pairs, most similar first

    def lines(self) -> list[str]:
        out = [
            f"removed {self.removed} near-duplicates of kept rows; every pair is in {DUPLICATES_FILE} there"
        ]
        if self.cross_label:
            out.append(f"{self.cross_label} of them match a kept row of another label (removed → kept):")
            out += [
                f"  row {e['sample_id']} {e['label']!r} → row {e['match_id']} {e['match_label']!r} "
                f"(cosine {e['similarity']:.3f})"
                for e in self.examples
            ]
        if self.blank:
            out.append(
                f"{self.blank} of the pairs hold an image flagged blank at ingest (one colour on the "
                "background): such a match says nothing about content"
            )
        return out


def duplicate_report(
    ws: Workspace, source: str, score_run: str, kept_ids: np.ndarray, folder: Path
) -> DuplicateReport | None:
    """The duplicates the selection that keeps ``kept_ids`` removed, by the matches ``score_run``
    recorded, written to ``folder/duplicates.parquet``. None where the run records no matches or the
    selection removed none of its duplicates (``--inverse`` keeps them)."""
    matches = score_matches(ws, score_run)
    if matches is None:
        return None
    sample_id = matches.column("sample_id").to_numpy()
    removed = ~np.isin(sample_id, np.asarray(kept_ids, dtype=np.int64))
    if not removed.any():
        return None
    sample_id = sample_id[removed]
    match_id = matches.column("match_id").to_numpy()[removed]
    similarity = matches.column("similarity").to_numpy()[removed]
    label, match_label = labels_of(ws, source, sample_id), labels_of(ws, source, match_id)
    cross = (label >= 0) & (match_label >= 0) & (label != match_label)
    blank_ids = flagged_ids(ws, source, "blank")
    blank = np.isin(sample_id, blank_ids) | np.isin(match_id, blank_ids)
    pq.write_table(
        pa.table(
            {
                "sample_id": sample_id,
                "label": label,
                "match_id": match_id,
                "match_label": match_label,
                "similarity": similarity,
                "cross_label": cross,
                "blank": blank,
            }
        ),
        folder / DUPLICATES_FILE,
    )
    names = label_names(ws, source) or []

    def name(value: int) -> str:
        return names[value] if 0 <= value < len(names) else str(value)

    shown = np.flatnonzero(cross)[np.argsort(-similarity[cross], kind="stable")][:EXAMPLES]
    examples = [
        {
            "sample_id": int(sample_id[i]),
            "label": name(int(label[i])),
            "match_id": int(match_id[i]),
            "match_label": name(int(match_label[i])),
            "similarity": float(similarity[i]),
        }
        for i in shown
    ]
    return DuplicateReport(len(sample_id), int(cross.sum()), int(blank.sum()), examples)
