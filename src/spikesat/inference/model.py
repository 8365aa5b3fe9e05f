"""``MultiTaskLAM``: per-modality tokenizers, one shared ViT backbone, one head per task.

The computation, in order (each step is a service of :func:`~spikesat.inference.service_graph`):

1. ``tokenizer:<modality>``: the modality's patch projection (:class:`PatchTokenizer`), images
   ``[B, bands, H, W]`` -> patch tokens ``[B, N, D]``.
2. **Fusion** (first backbone segment): the token-wise *mean* of the patch tokens of the
   modalities present in the request (sum fusion, scaled so that one or two modalities give
   tokens of the same scale; with one modality it is the identity, bit for bit), then the
   backbone's class token, position embedding and pre-norm.
3. ``backbone:<k>``: consecutive transformer blocks; the last segment ends with the final norm
   and the mean pool over patch tokens -> features ``[B, D]``.
4. ``head:<task>``: the task's MLP head and its activation
   (:class:`~spikesat.inference.tasks.Task`).

Built from a zoo ViT (:func:`spikesat.models.create`, or a trained :class:`~spikesat.models.LAM`),
the RGB tokenizer, the backbone and a ``landcover`` head of the same width reuse its weights, so
an RGB request answers ``landcover`` exactly as the LAM does. Other modalities start as band
adapters of the RGB projection (:mod:`spikesat.inference.modalities`).
"""

from __future__ import annotations

import copy
from collections.abc import Mapping, Sequence

import torch
from torch import Tensor, nn

from spikesat._checks import check_tensor
from spikesat.inference.modalities import RGB_BANDS, Modality, PatchTokenizer, resolve_modalities
from spikesat.inference.tasks import Task, resolve_tasks
from spikesat.models import LAM, create
from spikesat.models.head import task_head
from spikesat.train.rng import seeded_global_rng


class FuseEmbed(nn.Module):
    """Mean of the modalities' patch tokens, then class token, position embedding, pre-norm.

    ``forward(*tokens)``: one or more ``[B, N, D]`` -> ``[B, 1 + N, D]``.
    """

    def __init__(self, vit_embed: nn.Module) -> None:
        super().__init__()
        self.cls_token = vit_embed.cls_token
        self.pos_embed = vit_embed.pos_embed
        self.pos_drop = vit_embed.pos_drop
        self.patch_drop = vit_embed.patch_drop
        self.norm_pre = vit_embed.norm_pre

    def forward(self, *tokens: Tensor) -> Tensor:
        x = tokens[0] if len(tokens) == 1 else torch.stack(tokens).mean(0)
        x = torch.cat([self.cls_token.expand(x.shape[0], -1, -1), x], dim=1)
        x = self.pos_drop(x + self.pos_embed)
        return self.norm_pre(self.patch_drop(x))


class MultiTaskLAM(nn.Module):
    """One LAM serving several tasks and modalities (see the module docstring).

    Parameters
    ----------
    lam : LAM
        A ViT LAM of the zoo (stages ``patch_embed``, ``blocks``, ``norm``, ``pool``, ``head``);
        copied, so the caller's model is left alone.
    modalities : list of Modality
        One tokenizer each.
    tasks : list of Task
        One head each.
    split_at : str
        The block after which the on-board part ends (``"blocks.1"``): the default cut of the
        service graph.
    head_hidden : int
        Hidden width of new heads.

    Attributes
    ----------
    tokenizers, heads : nn.ModuleDict
        Per modality / task.
    pretrained_tokenizers : set of str
        Modalities whose tokenizer is the LAM's own projection (the others are adapters).
    embed : FuseEmbed
    blocks : nn.Sequential
    norm, pool : nn.Module
    """

    def __init__(
        self,
        lam: LAM,
        modalities: list[Modality],
        tasks: list[Task],
        split_at: str,
        head_hidden: int = 256,
    ) -> None:
        super().__init__()
        missing = [
            s for s in ("patch_embed", "blocks", "norm", "pool", "head") if not hasattr(lam, s)
        ]
        if not isinstance(lam, LAM) or missing or not hasattr(lam.patch_embed, "pos_embed"):
            raise ValueError(
                f"multitask_lam needs a ViT LAM of the zoo (vit-micro-p8, vit-tiny-p8, ...) "
                f"with token stages, got {getattr(lam, 'name', type(lam).__name__)}"
            )
        lam = copy.deepcopy(lam)
        rgb_proj = lam.patch_embed.patch_embed.proj
        embed_dim, patch = rgb_proj.out_channels, rgb_proj.kernel_size[0]
        lam_bands = RGB_BANDS if lam.in_chans == 3 else None
        self.modalities = {m.name: m for m in modalities}
        self.tasks = {t.name: t for t in tasks}
        self.img_size = int(lam.config.get("img_size", 64))
        self.name = f"multitask-{lam.name}"
        self.tokenizers = nn.ModuleDict()
        self.pretrained_tokenizers: set[str] = set()
        for modality in modalities:
            tokenizer = PatchTokenizer(modality, embed_dim, patch)
            if lam_bands is not None and modality.bands == lam_bands:
                tokenizer.proj.load_state_dict(rgb_proj.state_dict())
                self.pretrained_tokenizers.add(modality.name)
            elif lam_bands is not None and set(modality.bands) & set(lam_bands):
                tokenizer.adapt_from(rgb_proj, lam_bands)
            self.tokenizers[modality.name] = tokenizer
        self.embed = FuseEmbed(lam.patch_embed)
        self.blocks = lam.blocks
        self.norm = lam.norm
        self.pool = lam.pool
        self.heads = nn.ModuleDict()
        for task in tasks:
            if task.kind == "classification" and task.out_dim == lam.num_classes:
                self.heads[task.name] = lam.head
            else:
                self.heads[task.name] = task_head(embed_dim, task.out_dim, hidden=head_hidden)
        self.block_names = [f"blocks.{i}" for i in range(len(self.blocks))]
        self.split_at = self.check_cut(split_at)

    def check_cut(self, at: str) -> str:
        """Return ``at`` if it names a block other than the last; raise otherwise."""
        if at not in self.block_names[:-1]:
            raise ValueError(
                f"cannot cut after {at!r}: choose one of {', '.join(self.block_names[:-1])} (a "
                "cut needs blocks on both sides)"
            )
        return at

    def check_inputs(self, inputs: object) -> dict[str, Tensor]:
        """Check a request (:func:`check_request`)."""
        return check_request(inputs, self.modalities, self.img_size)

    def frozen_parts(self) -> list[nn.Module]:
        """The backbone and the pretrained tokenizers (what ``heads+adapters`` training
        freezes, and keeps in eval mode)."""
        tokenizers = [self.tokenizers[m] for m in self.pretrained_tokenizers]
        return [*tokenizers, self.embed, self.blocks, self.norm, self.pool]

    def tokenize(self, inputs: Mapping[str, Tensor]) -> list[Tensor]:
        """Patch tokens of each modality present, in the model's modality order."""
        return [self.tokenizers[m](inputs[m]) for m in self.modalities if m in inputs]

    def features(self, inputs: Mapping[str, Tensor]) -> Tensor:
        """Pooled backbone features ``[B, D]`` of a request."""
        x = self.embed(*self.tokenize(self.check_inputs(inputs)))
        for block in self.blocks:
            x = block(x)
        return self.pool(self.norm(x))

    def forward(self, inputs: Mapping[str, Tensor]) -> dict[str, Tensor]:
        """A request ``{modality: [B, bands, H, W]}`` -> ``{task: answer}`` for every task."""
        features = self.features(inputs)
        return {name: task.answer(self.heads[name](features)) for name, task in self.tasks.items()}


def check_request(
    inputs: object, modalities: Mapping[str, Modality], img_size: int
) -> dict[str, Tensor]:
    """Check a request: a non-empty dict modality -> finite images ``[B, bands, H, W]``.

    Raises
    ------
    TypeError, ValueError
        Not a dict, no modality, an unknown one (the choices are listed), a wrong band count or
        image size, NaN/Inf, or batch sizes that differ between modalities.
    """
    if not isinstance(inputs, Mapping):
        raise TypeError(
            f"inputs must be a dict modality -> images, got {type(inputs).__name__} (e.g. "
            "{'rgb': images})"
        )
    if not inputs:
        raise ValueError(f"a request needs at least one modality of {list(modalities)}")
    unknown = [m for m in inputs if m not in modalities]
    if unknown:
        raise ValueError(
            f"unknown modality {unknown[0]!r}: this model takes {', '.join(modalities)}"
        )
    batch = set()
    for name, images in inputs.items():
        bands = modalities[name].num_bands
        check_tensor(images, f"inputs[{name!r}]", shape=("B", bands, img_size, img_size))
        batch.add(images.shape[0])
    if len(batch) != 1:
        raise ValueError(f"the modalities of a request hold different batch sizes {sorted(batch)}")
    return dict(inputs)


def multitask_lam(
    name: str | LAM = "vit-micro-p8",
    modalities: Sequence[str] | Mapping[str, Sequence[str]] = ("rgb", "ms"),
    tasks: Sequence[str] = ("landcover", "cloud", "ndvi"),
    split_at: str = "blocks.1",
    seed: int = 0,
    head_hidden: int = 256,
) -> MultiTaskLAM:
    """Build a :class:`MultiTaskLAM` from a zoo ViT (by name, or a trained LAM).

    Parameters
    ----------
    name : str or LAM
        A ViT name of :func:`spikesat.models.list_models` (built for RGB and 10 classes, with
        ``seed``), or a trained ViT LAM (its weights are reused; see the module docstring).
    modalities : sequence of str, or mapping of str to band names
        ``"rgb"`` and/or ``"ms"``, or a dict for other sensors (name -> Sentinel-2 band names).
    tasks : sequence of str
        Task names (:func:`~spikesat.inference.list_tasks`).
    split_at : str
        The default cut (``"blocks.<i>"``).
    seed : int
        Seed of every new weight (heads, adapters, and the backbone when built by name).
    head_hidden : int
        Hidden width of new heads.
    """
    with seeded_global_rng(seed, torch.device("cpu")):
        lam = create(name, seed=seed) if isinstance(name, str) else name
        return MultiTaskLAM(
            lam, resolve_modalities(modalities), resolve_tasks(tasks), split_at, head_hidden
        )
