"""Task-oriented codec training and evaluation on split-point features.

The loss for one batch of split-point features ``x`` with labels ``y``::

    L = CE(remote(x_hat), y)
        + distill_weight * T^2 * KL(softmax(remote(x) / T) || softmax(remote(x_hat) / T))
        + lmbda * bits_per_example

(``lmbda`` ramps up from 0 over ``rate_warmup_epochs``.)
``remote`` is the frozen ground-side part of the split LAM, the teacher is the same LAM on the
uncompressed features, and ``bits_per_example`` is the rate the entropy model estimates
(``-sum log2 likelihoods / B``). A sweep over ``lmbda`` traces the rate-accuracy curve. The
analog "deepjscc" codec has no rate term; it is trained with the channel in the loop at SNRs
drawn uniformly from its range. Learned entropy models also get CompressAI's auxiliary
quantile loss (a separate optimiser), and their CDF tables are rebuilt at the end.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from spikesat.codecs.base import Codec, DecodeResult
from spikesat.codecs.checkpoints import save_codec
from spikesat.codecs.deepjscc import DeepJSCC
from spikesat.codecs.learned import LearnedCodec
from spikesat.codecs.registry import create
from spikesat.train.core import StepOutput, WallTime, optimiser_step, run_epochs, steps_per_epoch
from spikesat.train.device import check_device, resolve_device
from spikesat.train.optim import warmup_cosine
from spikesat.train.progress import ProgressFn
from spikesat.train.rng import seeded_global_rng


@dataclass
class CodecTrainConfig:
    """Hyper-parameters of :func:`train_codec`.

    Attributes
    ----------
    lmbda : float
        Weight of the rate term [loss per bit per example].
    num_epochs : int
        Passes over the training features.
    batch_size : int
        Examples per step.
    lr, aux_lr : float
        Adam learning rates of the codec and of the entropy-bottleneck quantiles.
    distill_weight : float
        Weight of the distillation term.
    temperature : float
        Distillation temperature ``T``.
    rate_warmup_epochs : float
        The rate weight ramps linearly from 0 to ``lmbda`` over this many epochs, so the
        transforms learn the task before the rate term squeezes the latents (without it, a
        codec trained from scratch collapses to zero rate and chance accuracy).
    seed : int
        Seed of shuffling, quantisation noise, SNR draws and channel draws (torch's global
        generators are seeded only inside :func:`train_codec` and left as they were).
    device : str
        "auto" (CUDA when available), "cpu", "cuda" or "cuda:N".
    """

    lmbda: float = 0.01
    num_epochs: int = 10
    batch_size: int = 128
    lr: float = 1e-3
    aux_lr: float = 1e-3
    distill_weight: float = 1.0
    temperature: float = 2.0
    rate_warmup_epochs: float = 1.0
    seed: int = 0
    device: str = "auto"

    def __post_init__(self) -> None:
        for name in ("num_epochs", "batch_size"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"{name} must be a positive int, got {value!r}")
        for name in ("lmbda", "distill_weight", "rate_warmup_epochs"):
            value = getattr(self, name)
            if not (isinstance(value, int | float) and math.isfinite(value) and value >= 0):
                raise ValueError(f"{name} must be a finite number >= 0, got {value!r}")
        for name in ("lr", "aux_lr", "temperature"):
            value = getattr(self, name)
            if not (isinstance(value, int | float) and value > 0):
                raise ValueError(f"{name} must be > 0, got {value!r}")
        check_device(self.device)


def bits_per_example(likelihoods: dict[str, Tensor]) -> Tensor:
    """Estimated rate ``-sum log2 p / B`` [bit per example] of a codec's likelihoods (0 if none)."""
    if not likelihoods:
        return torch.zeros(())
    total = sum(-torch.log2(lik).sum() for lik in likelihoods.values())
    batch = next(iter(likelihoods.values())).shape[0]
    return total / batch


def _check_data(features: Tensor, labels: Tensor) -> None:
    if not isinstance(features, Tensor) or not isinstance(labels, Tensor):
        raise TypeError("features and labels must be tensors")
    if labels.dim() != 1 or len(labels) != len(features):
        raise ValueError(
            f"labels must be [N] with N = len(features) = {len(features)}, "
            f"got {tuple(labels.shape)}"
        )


@torch.no_grad()
def _batched(module: nn.Module, x: Tensor, device: torch.device, batch_size: int) -> Tensor:
    return torch.cat(
        [module(x[i : i + batch_size].to(device)).cpu() for i in range(0, len(x), batch_size)]
    )


def train_codec(
    codec: Codec,
    features: Tensor,
    labels: Tensor,
    remote: nn.Module,
    config: CodecTrainConfig | None = None,
    progress: ProgressFn | None = None,
) -> list[dict[str, float]]:
    """Train ``codec`` for the task behind the frozen ``remote`` part of a split LAM.

    Parameters
    ----------
    codec : Codec
        A learned codec ("factorized", "hyperprior") or "deepjscc".
    features : Tensor
        ``[N, ...]`` split-point features (the on-board output), on any device.
    labels : Tensor
        ``[N]`` class labels.
    remote : nn.Module
        Features -> logits ``[B, K]``; frozen (its weights and mode are restored afterwards).
    config : CodecTrainConfig
        Hyper-parameters.
    progress : callable, optional
        Called after every step with ``(step, total_steps, metrics)``.

    Returns
    -------
    list of dict
        Per epoch: ``loss``, ``cross_entropy``, ``distillation``, ``bits_per_example``
        (entropy-model estimate), ``train_accuracy``, ``wall_time_s``.

    Raises
    ------
    ValueError
        If the codec has nothing to train (a baseline) or the data are inconsistent.
    """
    cfg = config or CodecTrainConfig()
    if not isinstance(codec, LearnedCodec | DeepJSCC):
        raise ValueError(
            f"codec {codec.name!r} has nothing to train; train 'factorized', 'hyperprior' or "
            "'deepjscc'"
        )
    _check_data(features, labels)
    device = resolve_device(cfg.device)
    codec.to(device)
    remote.to(device)
    was_training = remote.training
    grads = [p.requires_grad for p in remote.parameters()]
    remote.eval()
    for p in remote.parameters():
        p.requires_grad_(False)
    gen = torch.Generator().manual_seed(cfg.seed)
    try:
        # CompressAI's additive quantisation noise draws from torch's global generator.
        with seeded_global_rng(cfg.seed, device):
            teacher = _batched(remote, features, device, 512)
            aux_params = [p for n, p in codec.named_parameters() if n.endswith("quantiles")]
            main_params = [p for n, p in codec.named_parameters() if not n.endswith("quantiles")]
            optimiser = torch.optim.Adam(main_params, lr=cfg.lr)
            aux_optimiser = torch.optim.Adam(aux_params, lr=cfg.aux_lr) if aux_params else None
            per_epoch = steps_per_epoch(len(features), cfg.batch_size)
            schedule = warmup_cosine(optimiser, 0, cfg.num_epochs * per_epoch, floor=0.05)
            ramp_steps = max(cfg.rate_warmup_epochs * per_epoch, 1e-9)

            def step(idx: Tensor) -> StepOutput:
                x, y = features[idx].to(device), labels[idx].to(device)
                out = codec(x, generator=gen) if isinstance(codec, DeepJSCC) else codec(x)
                logits = remote(out["x_hat"])
                ce = F.cross_entropy(logits, y)
                t = cfg.temperature
                kd = F.kl_div(
                    F.log_softmax(logits / t, dim=1),
                    F.log_softmax(teacher[idx].to(device) / t, dim=1),
                    log_target=True,
                    reduction="batchmean",
                ) * (t * t)
                bits = bits_per_example(out["likelihoods"]).to(device)
                # the schedule's step count is the number of steps taken so far
                ramp = min(1.0, schedule.last_epoch / ramp_steps)
                loss = ce + cfg.distill_weight * kd + cfg.lmbda * ramp * bits
                optimiser_step(loss, optimiser, schedule, max_grad_norm=5.0)
                if aux_optimiser is not None:
                    optimiser_step(codec.aux_loss(), aux_optimiser)
                values = {key: float(v.detach()) for key, v in (("loss", loss), ("bits", bits))}
                n = len(idx)
                totals = {
                    "loss": values["loss"] * n,
                    "cross_entropy": float(ce.detach()) * n,
                    "distillation": float(kd.detach()) * n,
                    "bits_per_example": values["bits"] * n,
                    "train_accuracy": int((logits.argmax(1) == y).sum()),
                }
                return StepOutput(values, totals)

            history = run_epochs(
                codec,
                step,
                num_examples=len(features),
                batch_size=cfg.batch_size,
                num_epochs=cfg.num_epochs,
                generator=gen,
                progress=progress,
                end_epoch=WallTime(time.time()),
            )
    finally:
        for p, g in zip(remote.parameters(), grads, strict=True):
            p.requires_grad_(g)
        remote.train(was_training)
    codec.eval()
    if isinstance(codec, LearnedCodec):
        codec.update_tables()
    return history


@torch.no_grad()
def evaluate_codec(
    codec: Codec,
    features: Tensor,
    labels: Tensor,
    remote: nn.Module,
    *,
    batch_size: int = 256,
    snr_db: float | None = None,
    seed: int = 0,
) -> dict[str, Any]:
    """Accuracy and real size of ``codec`` on ``features`` behind ``remote``.

    Digital codecs really compress and decompress (the bytes are counted from the packets);
    "deepjscc" runs its channel at ``snr_db``.

    Parameters
    ----------
    codec : Codec
        Any codec. For an image codec pass images and the whole LAM as ``remote``.
    features, labels : Tensor
        ``[N, ...]`` inputs of the codec and ``[N]`` labels.
    remote : nn.Module
        Decoded features -> logits.
    batch_size : int
        Examples per batch.
    snr_db : float, optional
        Channel SNR [dB]; required for "deepjscc", ignored otherwise.
    seed : int
        Seed of the analog channel draws.

    Returns
    -------
    dict
        ``accuracy``, ``num_examples`` and, for digital codecs, ``bytes_per_example`` (on the
        wire: headers and CRCs included), ``payload_bytes_per_example`` and
        ``packets_per_example``; for deepjscc ``symbols_per_example`` and ``snr_db``.
    """
    _check_data(features, labels)
    device = next(iter(codec.parameters()), torch.empty(0)).device
    remote_device = next(iter(remote.parameters()), torch.empty(0)).device
    was_training = (codec.training, remote.training)
    codec.eval()
    remote.eval()
    correct = 0
    wire = payload = packets = 0
    gen = torch.Generator().manual_seed(seed)
    try:
        for start in range(0, len(features), batch_size):
            x = features[start : start + batch_size].to(device)
            if isinstance(codec, DeepJSCC):
                if snr_db is None:
                    raise ValueError("evaluating deepjscc needs snr_db")
                x_hat = codec(x, snr_db=snr_db, generator=gen)["x_hat"]
            else:
                streams = codec.compress(x, first_example_id=start)
                wire += sum(s.num_bytes for s in streams)
                packets += sum(s.num_packets for s in streams)
                payload += sum(sum(len(p.payload) for p in s.packets) for s in streams)
                x_hat = codec.decompress(streams, first_example_id=start)
            logits = remote(x_hat.to(remote_device))
            correct += int((logits.argmax(1).cpu() == labels[start : start + batch_size]).sum())
    finally:
        codec.train(was_training[0])
        remote.train(was_training[1])
    n = len(features)
    result: dict[str, Any] = {"accuracy": correct / n, "num_examples": n}
    if isinstance(codec, DeepJSCC):
        result.update(symbols_per_example=codec.num_symbols, snr_db=snr_db)
    else:
        result.update(
            bytes_per_example=wire / n,
            payload_bytes_per_example=payload / n,
            packets_per_example=packets / n,
        )
    return result


@dataclass
class SweepEntry:
    """One point of a lambda sweep: the trained codec, its checkpoint and its history."""

    lmbda: float
    codec: Codec
    checkpoint: Path | None
    history: list[dict[str, float]]

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready (the codec left out)."""
        return {
            "lmbda": self.lmbda,
            "checkpoint": None if self.checkpoint is None else str(self.checkpoint),
            "history": self.history,
        }


def train_lambda_sweep(
    name: str,
    in_channels: int,
    lambdas: Sequence[float],
    features: Tensor,
    labels: Tensor,
    remote: nn.Module,
    *,
    codec_kwargs: dict[str, Any] | None = None,
    config: CodecTrainConfig | None = None,
    warm_start: bool = True,
    checkpoint_dir: str | Path | None = None,
    checkpoint_prefix: str = "",
    meta: dict[str, Any] | None = None,
    progress: Callable[[float, int, int, dict[str, float]], None] | None = None,
) -> list[SweepEntry]:
    """Train one codec per ``lmbda`` (ascending) and optionally checkpoint each.

    Parameters
    ----------
    name : str
        "factorized" or "hyperprior".
    in_channels : int
        Feature channels.
    lambdas : sequence of float
        Rate weights; trained in ascending order.
    features, labels, remote
        As in :func:`train_codec`.
    codec_kwargs : dict, optional
        Options of the codec.
    config : CodecTrainConfig, optional
        Shared hyper-parameters (``lmbda`` is overridden per point).
    warm_start : bool
        Start each point from the previous point's weights (faster convergence).
    checkpoint_dir : path, optional
        Where to write ``{prefix}{name}-lambda{lmbda:g}.pt`` (use
        :func:`~spikesat.codecs.checkpoints.codec_cache_dir`, never the repository).
    checkpoint_prefix : str
        File-name prefix (e.g. the model and split point).
    meta : dict, optional
        Stored in every checkpoint.
    progress : callable, optional
        ``progress(lmbda, step, total_steps, metrics)``.

    Returns
    -------
    list of SweepEntry
    """
    if not lambdas:
        raise ValueError("lambdas is empty; give at least one rate weight")
    base = config or CodecTrainConfig()
    entries: list[SweepEntry] = []
    previous: dict[str, Tensor] | None = None
    for lmbda in sorted(float(v) for v in lambdas):
        codec = create(name, in_channels, **dict(codec_kwargs or {}))
        if warm_start and previous is not None:
            codec.load_state_dict(previous)
        cfg = CodecTrainConfig(**{**asdict(base), "lmbda": lmbda})
        callback = None
        if progress is not None:
            callback = _SweepProgress(progress, lmbda)
        history = train_codec(codec, features, labels, remote, cfg, progress=callback)
        previous = {k: v.detach().clone() for k, v in codec.state_dict().items()}
        path = None
        if checkpoint_dir is not None:
            path = Path(checkpoint_dir) / f"{checkpoint_prefix}{name}-lambda{lmbda:g}.pt"
            save_codec(codec, path, meta={**dict(meta or {}), "lmbda": lmbda, "history": history})
        entries.append(SweepEntry(lmbda, codec, path, history))
    return entries


class _SweepProgress:
    """Adapts a sweep progress callback to :data:`ProgressFn` (picklable, no closure)."""

    def __init__(self, callback: Callable[[float, int, int, dict[str, float]], None], lmbda: float):
        self.callback = callback
        self.lmbda = lmbda

    def __call__(self, step: int, total: int, metrics: dict[str, float]) -> None:
        self.callback(self.lmbda, step, total, metrics)


def erasure_accuracy(result: DecodeResult, logits: Tensor, labels: Tensor) -> float:
    """Accuracy counting every erased example as wrong (the honest score of a lossy link)."""
    correct = (logits.argmax(1).cpu() == labels.cpu()) & ~result.erasure_mask.cpu()
    return float(correct.float().mean())
