"""The DiT velocity network (docs/architecture.md, "Training and evaluation") and its on-disk form.

The network is ``diffusers.DiTTransformer2DModel`` (Peebles & Xie 2023, adaLN-Zero blocks) wrapped in
:class:`FlowDiT`, which speaks the flow-matching convention of :mod:`thresher.train.flow`: time ``t`` in
[0, 1] (t=1 is data) and an optional class label, where ``None`` means the null class used for
classifier-free guidance and for unconditional models.
"""

from __future__ import annotations

import json
import re
from dataclasses import asdict, dataclass
from pathlib import Path

import torch
from diffusers import DiTTransformer2DModel
from diffusers.models.embeddings import LabelEmbedding
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file
from torch import nn

from thresher.errors import ThresherError
from thresher.train.flow import NULL_LABEL

MODEL_CONFIG_FILE = "model.json"
EMA_WEIGHTS_FILE = "ema.safetensors"

# (width, depth, heads) of the DiT paper's Table 1; "T" is a tiny size for CPU tests and demos.
DIT_SIZES: dict[str, tuple[int, int, int]] = {
    "T": (128, 4, 4),
    "S": (384, 12, 6),
    "B": (768, 12, 12),
    "L": (1024, 24, 16),
    "XL": (1152, 28, 16),
}
PATCH_SIZES = (1, 2, 4, 8)  # 1: for small latents such as the 7×7 of thresher-ae
# diffusers' sinusoidal timestep embedding was designed for integer DDPM steps in [0, 1000).
TIMESTEP_SCALE = 1000.0


@dataclass(frozen=True)
class DiTConfig:
    """Everything needed to rebuild a :class:`FlowDiT` (stored as ``model.json`` in a run)."""

    size: str
    width: int
    depth: int
    heads: int
    patch_size: int
    in_channels: int
    sample_size: int
    num_classes: int | None


def dit_config(
    size: str,
    in_channels: int,
    sample_size: int,
    num_classes: int | None,
    *,
    width: int | None = None,
    depth: int | None = None,
    heads: int | None = None,
) -> DiTConfig:
    """Resolve a named size such as ``DiT-S/2`` (optionally overriding width/depth/heads) and validate it."""
    match = re.fullmatch(r"DiT-(T|S|B|L|XL)/(\d+)", size.strip(), flags=re.IGNORECASE)
    if match is None or int(match.group(2)) not in PATCH_SIZES:
        names = ", ".join(f"DiT-{s}/{p}" for s in DIT_SIZES for p in PATCH_SIZES)
        raise ThresherError(f"unknown model size {size!r}; choose one of {names}")
    name, patch = match.group(1).upper(), int(match.group(2))
    base_width, base_depth, base_heads = DIT_SIZES[name]
    width, depth, heads = width or base_width, depth or base_depth, heads or base_heads
    if width % heads:
        raise ThresherError(f"model width {width} is not divisible by {heads} attention heads")
    if sample_size % patch:
        raise ThresherError(
            f"input size {sample_size} is not divisible by the patch size {patch} of DiT-{name}/{patch}: "
            f"pass --image-size with a multiple of {patch}, or a model with another patch size"
        )
    if num_classes is not None and num_classes < 1:
        raise ThresherError(f"num_classes must be at least 1, got {num_classes}")
    return DiTConfig(f"DiT-{name}/{patch}", width, depth, heads, patch, in_channels, sample_size, num_classes)


class FlowDiT(nn.Module):
    """A DiT that predicts the flow-matching velocity ``v(x_t, t, label)``.

    Class labels run from 0 to ``num_classes - 1``; :data:`~thresher.train.flow.NULL_LABEL` (or
    ``labels=None``) selects the null class, embedding row ``num_classes``. An unconditional model has
    ``num_classes=None`` and always sees the null class, because diffusers' adaLN-Zero DiT requires a
    label embedding.
    """

    def __init__(self, config: DiTConfig) -> None:
        super().__init__()
        self.config = config
        self.dit = DiTTransformer2DModel(
            num_attention_heads=config.heads,
            attention_head_dim=config.width // config.heads,
            in_channels=config.in_channels,
            num_layers=config.depth,
            sample_size=config.sample_size,
            patch_size=config.patch_size,
            # One real label (index 0, never used) plus the null label (index 1) when unconditional.
            num_embeds_ada_norm=config.num_classes or 1,
        )
        for module in self.dit.modules():
            if isinstance(module, LabelEmbedding):
                # The table keeps its extra null row; label dropout happens in the training loop instead,
                # because diffusers would draw it independently in every block (inconsistent labels).
                module.dropout_prob = 0.0
        _init_like_dit_paper(self.dit)

    @property
    def null_class(self) -> int:
        return self.config.num_classes or 1

    def forward(self, x: torch.Tensor, t: torch.Tensor, labels: torch.Tensor | None = None) -> torch.Tensor:
        """Velocity at ``x`` (B×C×H×W) and times ``t`` (B,) in [0, 1]; ``labels`` None means the null class."""
        batch = x.shape[0]
        if self.config.num_classes is None or labels is None:
            labels = torch.full((batch,), self.null_class, dtype=torch.long, device=x.device)
        else:
            labels = torch.where(labels == NULL_LABEL, self.null_class, labels.to(x.device))
        timestep = (t.to(x.device, torch.float32) * TIMESTEP_SCALE).expand(batch)
        return self.dit(x, timestep=timestep, class_labels=labels, return_dict=False)[0]


def build_model(
    size: str,
    in_channels: int,
    sample_size: int,
    num_classes: int | None,
    *,
    width: int | None = None,
    depth: int | None = None,
    heads: int | None = None,
) -> FlowDiT:
    """A freshly initialised :class:`FlowDiT` of a named size (``DiT-S/2``, ``DiT-T/4``, ...)."""
    config = dit_config(size, in_channels, sample_size, num_classes, width=width, depth=depth, heads=heads)
    return FlowDiT(config)


def _init_like_dit_paper(dit: DiTTransformer2DModel) -> None:
    """DiT's initialisation (Peebles & Xie 2023, §3.2): every adaLN modulation and the output projection
    start at zero, so each block starts as the identity and training is markedly more stable than with
    the default init diffusers uses."""
    for module in dit.modules():
        if isinstance(module, nn.Linear):
            nn.init.xavier_uniform_(module.weight)
            nn.init.zeros_(module.bias)
        elif isinstance(module, nn.Embedding):
            nn.init.normal_(module.weight, std=0.02)
    proj = dit.pos_embed.proj
    nn.init.xavier_uniform_(proj.weight.view(proj.weight.shape[0], -1))
    nn.init.zeros_(proj.bias)
    for block in dit.transformer_blocks:
        nn.init.normal_(block.norm1.emb.timestep_embedder.linear_1.weight, std=0.02)
        nn.init.normal_(block.norm1.emb.timestep_embedder.linear_2.weight, std=0.02)
        nn.init.zeros_(block.norm1.linear.weight)
        nn.init.zeros_(block.norm1.linear.bias)
    for layer in (dit.proj_out_1, dit.proj_out_2):
        nn.init.zeros_(layer.weight)
        nn.init.zeros_(layer.bias)


def save_model(model: FlowDiT, directory: Path, extra: dict | None = None) -> None:
    """Write ``model.json`` (config plus ``extra`` such as the data space and VAE) and ``ema.safetensors``."""
    directory.mkdir(parents=True, exist_ok=True)
    payload = {"dit": asdict(model.config), **(extra or {})}
    (directory / MODEL_CONFIG_FILE).write_text(json.dumps(payload, indent=2) + "\n")
    state = {name: tensor.detach().float().cpu().contiguous() for name, tensor in model.state_dict().items()}
    save_file(state, directory / EMA_WEIGHTS_FILE)


def load_model(directory: Path) -> tuple[FlowDiT, dict]:
    """Rebuild the model saved by :func:`save_model`; returns it (eval mode, CPU) and the ``model.json`` payload."""
    config_path, weights_path = directory / MODEL_CONFIG_FILE, directory / EMA_WEIGHTS_FILE
    if not config_path.is_file() or not weights_path.is_file():
        raise ThresherError(
            f"{directory} holds no trained model ({MODEL_CONFIG_FILE} and {EMA_WEIGHTS_FILE})"
        )
    try:
        payload = json.loads(config_path.read_text())
        model = FlowDiT(DiTConfig(**payload["dit"]))
        model.load_state_dict(load_file(weights_path))
    except (ValueError, KeyError, TypeError, RuntimeError, OSError, SafetensorError) as error:
        # ValueError covers a JSON file cut short; SafetensorError a weights file cut short or changed.
        first = str(error).splitlines()[0][:200] if str(error) else type(error).__name__
        raise ThresherError(f"{directory} holds a damaged model (truncated or changed): {first}") from None
    return model.eval(), payload
