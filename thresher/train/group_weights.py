"""Group weights found by distributionally robust optimization against a reference model (the
"reweighting" of Li et al. 2024, "Pruning then Reweighting", arXiv:2409.19128, after DoReMi, Xie et
al. 2023, arXiv:2305.10429); see docs/architecture.md, 'DRO group weights'.

The paper's code was never released, so this module is the reference; every choice is written here.

Setting: G groups (classes or clusters, ids 0..G-1). A *proxy* model is trained on the pruned subset
while a fixed, pre-trained *reference* model is evaluated at the same (x, t, noise), giving per-sample
losses ``l_proxy`` and ``l_reference`` (shape (B,): reduce every other dimension first, e.g. the
per-sample mean squared error of ``thresher.train.flow.flow_loss``). Each training step:

1. Excess loss per group: lambda_g = mean over the batch's group-g samples of max(l_proxy - l_ref, 0).
   The clamp means a group the proxy already fits better than the reference earns no weight.
2. Exponentiated-gradient step and smoothing (DoReMi):
   alpha <- softmax(log alpha + eta · lambda);  alpha <- (1 - s) · alpha + s / G.
3. The proxy's loss is weighted by the alpha of each sample's group (:meth:`GroupWeights.sample_weights`).
4. The result is the mean of alpha over the steps taken (:attr:`GroupWeights.average`): alpha after
   update 1, 2, ..., T, the initial uniform alpha not included (DoReMi's average).

Choices beyond the formula:

* Groups absent from a batch (lambda_g undefined, reported as NaN by :meth:`~GroupWeights.excess_loss`)
  keep their weight *exactly* for that step; the step is taken among the present groups P only, with
  their total mass m = sum_P alpha preserved, so alpha stays a distribution:
  alpha_g <- f + (m - |P| · f) · softmax_P(log alpha + eta · lambda)_g for g in P, with the floor
  f = s / G. When every group is present (m = 1) this is exactly step 2 written as
  s/G + (1 - s) · softmax(...). The floor form keeps every weight >= s/G at all times (by induction:
  m >= |P| · s/G); should a caller hand :func:`dro_step` weights below the floor, f is lowered to
  m / |P| so the mass is still preserved.
* Groups absent from the whole subset (``present`` given and not listing them) get alpha = 0 for
  good, are listed by :attr:`~GroupWeights.absent_groups`, and do not count in G (G is the number of
  present groups, so the floor is s / G_present and the initial alpha is uniform over them). A batch
  sample from such a group is an error (the subset contradicts ``present``); no division by zero or
  NaN can arise from them.
* Smoothing still applies when lambda = 0, pulling alpha toward uniform; uniform alpha is a fixed
  point (so equal or clamped losses from the start leave alpha uniform).
* Sample weights are G_present · alpha[group], so with uniform alpha every weight is exactly 1 and
  ``(losses * weights).mean()`` is the ordinary mean loss; with a class-balanced batch their mean is
  1 for any alpha. Same shape, device and dtype as the caller's losses are up to the caller: the
  weights come on the device of ``groups`` in float32.
* State: alpha, the running sum of alpha, and the step count, kept on the CPU in float64 (G numbers);
  each update copies the (B,) losses to the CPU, one small host sync per step. Losses are detached;
  the update never takes part in autograd. Non-finite losses raise (a diverged run would otherwise
  silently poison the weights).
* Multi-process training: pass losses and groups gathered over all processes (e.g.
  ``accelerator.gather``) so every process computes the same alpha.
* ``state_dict``/``load_state_dict`` restore alpha, the running sum and the step count bit for bit;
  a state from a different number of groups, present set, eta or smoothing is refused.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import torch

from thresher.errors import ThresherError


@dataclass
class DROConfig:
    """``eta``: step size of the exponentiated-gradient update (> 0); ``smoothing``: s, the weight of the
    uniform distribution mixed in after every step (0 <= s < 1; every group weight stays >= s / G)."""

    eta: float = 1.0
    smoothing: float = 1e-3

    def __post_init__(self) -> None:
        if not (isinstance(self.eta, (int, float)) and math.isfinite(self.eta) and self.eta > 0):
            raise ThresherError(f"DRO eta must be a finite number > 0, got {self.eta!r}")
        if not (isinstance(self.smoothing, (int, float)) and 0.0 <= self.smoothing < 1.0):
            raise ThresherError(f"DRO smoothing must lie in [0, 1), got {self.smoothing!r}")


def dro_step(
    log_alpha: torch.Tensor,
    excess: torch.Tensor,
    present_mask: torch.Tensor,
    eta: float,
    smoothing: float,
    num_groups: int | None = None,
) -> torch.Tensor:
    """One DRO update: the new alpha (G,) from ``log_alpha`` (G,; -inf for groups with weight 0), the
    excess losses ``excess`` (G,; entries outside ``present_mask`` are ignored and may be NaN) and the
    boolean ``present_mask`` (G,) of groups seen in the batch. ``num_groups`` is the G of the floor
    s / G, by default the number of groups with weight > 0. Entries outside the mask come back as
    exp(log_alpha), i.e. unchanged up to the last bit of the log/exp round trip (GroupWeights copies
    its own values back, so there they are exact); the mass of the present groups is preserved (rule
    in the module docstring)."""
    log_alpha = log_alpha.to(torch.float64)
    present = present_mask.to(device=log_alpha.device, dtype=torch.bool)
    alpha = log_alpha.exp()
    new = alpha.clone()
    count = int(present.sum())
    mass = alpha[present].sum()
    if count == 0 or not mass > 0:  # nothing to move
        return new
    groups = int((alpha > 0).sum()) if num_groups is None else num_groups
    floor = min(smoothing / max(groups, 1), float(mass) / count)
    logits = log_alpha[present] + eta * excess.to(log_alpha)[present]
    free = torch.clamp(mass - count * floor, min=0.0)
    new[present] = floor + free * torch.softmax(logits, dim=0)
    return new


def group_sample_weights(
    alpha: torch.Tensor, groups: torch.Tensor, num_groups: int | None = None
) -> torch.Tensor:
    """Per-sample loss weights G · alpha[group] (float32, on ``groups``' device), G = ``num_groups``,
    by default the number of groups with weight > 0; all 1 when alpha is uniform over those groups."""
    support = int((alpha > 0).sum()) if num_groups is None else num_groups
    scaled = (alpha * support).to(device=groups.device, dtype=torch.float32)
    return scaled[groups.long()]


def _plain(value):
    return [int(v) for v in value] if isinstance(value, (list, tuple, torch.Tensor)) else value


class GroupWeights:
    """Online DRO group weights for ``num_groups`` groups (ids 0..num_groups-1).

    ``present``: the group ids that occur in the training subset (default: all); the others are
    reported by :attr:`absent_groups` and keep weight 0. Call :meth:`update` once per training step
    with the proxy's and reference's per-sample losses; weight the proxy's loss with
    :meth:`sample_weights`; use :attr:`average` as the final group weights."""

    def __init__(
        self, num_groups: int, config: DROConfig | None = None, present: Sequence[int] | None = None
    ):
        if isinstance(num_groups, bool) or not isinstance(num_groups, int) or num_groups < 1:
            raise ThresherError(f"DRO num_groups must be a positive integer, got {num_groups!r}")
        self.config = config if config is not None else DROConfig()
        self.num_groups = num_groups
        mask = torch.zeros(num_groups, dtype=torch.bool)
        if present is None:
            mask[:] = True
        else:
            ids = [int(g) for g in present]
            if not ids:
                raise ThresherError("DRO needs at least one group present in the subset")
            if min(ids) < 0 or max(ids) >= num_groups:
                raise ThresherError(
                    f"present group ids must lie in [0, {num_groups}), got {sorted(set(ids))}"
                )
            mask[ids] = True
        self._present = mask
        self._alpha = mask.to(torch.float64) / int(mask.sum())
        self._alpha_sum = torch.zeros(num_groups, dtype=torch.float64)
        self._steps = 0

    # ----------------------------------------------------------------- properties
    @property
    def present_groups(self) -> list[int]:
        """Group ids present in the subset, ascending."""
        return self._present.nonzero().flatten().tolist()

    @property
    def absent_groups(self) -> list[int]:
        """Group ids absent from the whole subset (weight 0 throughout), ascending."""
        return (~self._present).nonzero().flatten().tolist()

    @property
    def current(self) -> torch.Tensor:
        """alpha now, float64 (G,) on the CPU (a copy)."""
        return self._alpha.clone()

    @property
    def average(self) -> torch.Tensor:
        """Mean of alpha over the steps taken, float64 (G,) (a copy); before any step, the initial alpha."""
        if self._steps == 0:
            return self._alpha.clone()
        return self._alpha_sum / self._steps

    @property
    def steps(self) -> int:
        """Number of updates taken."""
        return self._steps

    # ----------------------------------------------------------------- updates
    def _batch(
        self, proxy_losses: torch.Tensor, reference_losses: torch.Tensor, groups: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        proxy = torch.as_tensor(proxy_losses).detach().to("cpu", torch.float64)
        reference = torch.as_tensor(reference_losses).detach().to("cpu", torch.float64)
        ids = torch.as_tensor(groups).detach().to("cpu")
        if proxy.ndim != 1 or proxy.shape != reference.shape or proxy.shape != ids.shape:
            raise ThresherError(
                "DRO needs per-sample losses and groups of one shape (B,), got "
                f"{tuple(proxy.shape)}, {tuple(reference.shape)} and {tuple(ids.shape)}"
            )
        if proxy.numel() == 0:
            raise ThresherError("DRO update on an empty batch")
        if ids.dtype.is_floating_point or ids.dtype.is_complex or ids.dtype == torch.bool:
            raise ThresherError(f"DRO groups must be integer ids, got dtype {ids.dtype}")
        ids = ids.long()
        if int(ids.min()) < 0 or int(ids.max()) >= self.num_groups:
            raise ThresherError(
                f"DRO group ids must lie in [0, {self.num_groups}), got {ids.unique().tolist()}"
            )
        if not (torch.isfinite(proxy).all() and torch.isfinite(reference).all()):
            raise ThresherError("DRO got a non-finite proxy or reference loss")
        seen = torch.bincount(ids, minlength=self.num_groups) > 0
        if (seen & ~self._present).any():
            stray = (seen & ~self._present).nonzero().flatten().tolist()
            raise ThresherError(f"batch holds samples of groups {stray}, declared absent from the subset")
        return proxy, reference, ids

    def _excess(self, proxy: torch.Tensor, reference: torch.Tensor, ids: torch.Tensor) -> torch.Tensor:
        counts = torch.bincount(ids, minlength=self.num_groups).to(torch.float64)
        sums = torch.zeros(self.num_groups, dtype=torch.float64).index_add_(
            0, ids, torch.clamp(proxy - reference, min=0.0)
        )
        return torch.where(counts > 0, sums / counts.clamp(min=1.0), torch.nan)

    def excess_loss(
        self, proxy_losses: torch.Tensor, reference_losses: torch.Tensor, groups: torch.Tensor
    ) -> torch.Tensor:
        """lambda, float64 (G,) on the CPU: per group, the batch mean of max(l_proxy - l_ref, 0);
        NaN for groups with no sample in the batch. Does not change the state."""
        return self._excess(*self._batch(proxy_losses, reference_losses, groups))

    def update(
        self, proxy_losses: torch.Tensor, reference_losses: torch.Tensor, groups: torch.Tensor
    ) -> torch.Tensor:
        """Take one DRO step on a batch (per-sample losses (B,) and group ids (B,)); returns the new
        alpha, float64 (G,) on the CPU (a copy)."""
        proxy, reference, ids = self._batch(proxy_losses, reference_losses, groups)
        excess = self._excess(proxy, reference, ids)
        seen = ~torch.isnan(excess)
        new = dro_step(
            self._alpha.log(),
            excess,
            seen,
            self.config.eta,
            self.config.smoothing,
            num_groups=int(self._present.sum()),
        )
        # exp(log alpha) can differ from alpha in the last bit: copy the unchanged entries exactly
        new[~seen] = self._alpha[~seen]
        self._alpha = new
        self._alpha_sum += self._alpha
        self._steps += 1
        return self._alpha.clone()

    def sample_weights(self, groups: torch.Tensor, average: bool = False) -> torch.Tensor:
        """Loss weights G_present · alpha[group] per sample (float32, on ``groups``' device), from the
        current alpha or, with ``average=True``, from :attr:`average` (for training on the result)."""
        ids = torch.as_tensor(groups)
        if ids.numel() and (int(ids.min()) < 0 or int(ids.max()) >= self.num_groups):
            raise ThresherError(f"group ids must lie in [0, {self.num_groups})")
        alpha = self.average if average else self._alpha
        return group_sample_weights(alpha, ids, num_groups=int(self._present.sum()))

    # ----------------------------------------------------------------- checkpointing
    def state_dict(self) -> dict:
        return {
            "num_groups": self.num_groups,
            "present": self.present_groups,
            "eta": self.config.eta,
            "smoothing": self.config.smoothing,
            "alpha": self._alpha.clone(),
            "alpha_sum": self._alpha_sum.clone(),
            "steps": self._steps,
        }

    def load_state_dict(self, state: dict) -> None:
        expected = {
            "num_groups": self.num_groups,
            "present": self.present_groups,
            "eta": self.config.eta,
            "smoothing": self.config.smoothing,
        }
        differ = [key for key, value in expected.items() if key not in state or _plain(state[key]) != value]
        if differ:
            raise ThresherError(f"DRO state does not match this run: different {', '.join(differ)}")
        self._alpha = torch.as_tensor(state["alpha"]).to("cpu", torch.float64).clone()
        self._alpha_sum = torch.as_tensor(state["alpha_sum"]).to("cpu", torch.float64).clone()
        self._steps = int(state["steps"])
