"""Masked-autoencoder (MAE) pretraining of the ViT LAMs on unlabelled imagery.

He et al., "Masked Autoencoders Are Scalable Vision Learners", CVPR 2022: hide a random 75%
of the patch tokens, encode the visible ones with the LAM's ViT encoder, and train a light
transformer decoder to reconstruct the per-patch-normalised pixels of the hidden patches.
The encoder keeps its weights for linear probing and fine-tuning.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import torch
from timm.models.vision_transformer import Block
from torch import nn

from spikesat._progress import progress_bar
from spikesat.models.lam import LAM
from spikesat.models.vit import ViTEmbed
from spikesat.train.augment import augment_batch
from spikesat.train.core import StepOutput, WallTime, optimiser_step, run_epochs, steps_per_epoch
from spikesat.train.device import resolve_device
from spikesat.train.loop import as_tensors
from spikesat.train.optim import adamw_warmup_cosine
from spikesat.train.progress import BarProgress
from spikesat.train.rng import seeded_global_rng


class MaskedAutoencoder(nn.Module):
    """A ViT LAM's encoder plus an MAE decoder.

    Parameters
    ----------
    lam : LAM
        A ViT from the zoo (``vit-*-p8``); its ``patch_embed``, ``blocks`` and ``norm``
        are trained in place.
    decoder_dim, decoder_depth, decoder_heads : int
        Width, depth and heads of the decoder transformer.
    mask_ratio : float
        Fraction of patches hidden from the encoder, in (0, 1).
    """

    def __init__(
        self,
        lam: LAM,
        decoder_dim: int = 128,
        decoder_depth: int = 2,
        decoder_heads: int = 4,
        mask_ratio: float = 0.75,
    ) -> None:
        super().__init__()
        embed = getattr(lam, "patch_embed", None)
        if not isinstance(embed, ViTEmbed):
            raise TypeError(f"MAE pretraining needs a ViT LAM (vit-*-p8), got {lam.name}")
        if not 0.0 < mask_ratio < 1.0:
            raise ValueError(f"mask_ratio must be in (0, 1), got {mask_ratio!r}")
        self.lam = lam
        self.mask_ratio = mask_ratio
        proj = embed.patch_embed
        self.patch_size = proj.patch_size[0]
        num_patches = proj.num_patches
        dim = embed.pos_embed.shape[-1]
        self.decoder_embed = nn.Linear(dim, decoder_dim)
        self.mask_token = nn.Parameter(torch.zeros(1, 1, decoder_dim))
        self.decoder_pos = nn.Parameter(torch.zeros(1, num_patches + 1, decoder_dim))
        nn.init.trunc_normal_(self.mask_token, std=0.02)
        nn.init.trunc_normal_(self.decoder_pos, std=0.02)
        self.decoder = nn.Sequential(
            *(Block(decoder_dim, decoder_heads, mlp_ratio=4.0) for _ in range(decoder_depth))
        )
        self.decoder_norm = nn.LayerNorm(decoder_dim)
        self.decoder_pred = nn.Linear(decoder_dim, self.patch_size**2 * lam.in_chans)

    def patchify(self, images: torch.Tensor) -> torch.Tensor:
        """``[B, C, H, W]`` -> patches ``[B, L, p*p*C]`` in raster order."""
        b, c, h, w = images.shape
        p = self.patch_size
        x = images.reshape(b, c, h // p, p, w // p, p)
        return x.permute(0, 2, 4, 3, 5, 1).reshape(b, (h // p) * (w // p), p * p * c)

    def forward(
        self, images: torch.Tensor, generator: torch.Generator | None = None
    ) -> torch.Tensor:
        """Return the MAE loss: mean squared error on the hidden, per-patch-normalised patches.

        Parameters
        ----------
        images : torch.Tensor
            ``[B, C, H, W]`` normalised images.
        generator : torch.Generator, optional
            Draws the masks (on the images' device).
        """
        embed: ViTEmbed = self.lam.patch_embed
        tokens = embed.patch_embed(images) + embed.pos_embed[:, 1:]
        b, num_patches, dim = tokens.shape
        num_keep = max(1, round(num_patches * (1 - self.mask_ratio)))
        noise = torch.rand(b, num_patches, device=images.device, generator=generator)
        shuffle = noise.argsort(dim=1)
        restore = shuffle.argsort(dim=1)
        keep = shuffle[:, :num_keep]
        visible = tokens.gather(1, keep[..., None].expand(-1, -1, dim))
        cls = (embed.cls_token + embed.pos_embed[:, :1]).expand(b, -1, -1)
        x = embed.norm_pre(torch.cat([cls, visible], dim=1))
        x = self.lam.norm(self.lam.blocks(x))
        x = self.decoder_embed(x)
        masked = self.mask_token.expand(b, num_patches - num_keep, -1)
        patches = torch.cat([x[:, 1:], masked], dim=1)
        patches = patches.gather(1, restore[..., None].expand(-1, -1, patches.shape[-1]))
        x = torch.cat([x[:, :1], patches], dim=1) + self.decoder_pos
        pred = self.decoder_pred(self.decoder_norm(self.decoder(x)))[:, 1:]
        target = self.patchify(images)
        mean, var = target.mean(-1, keepdim=True), target.var(-1, keepdim=True)
        target = (target - mean) / (var + 1e-6).sqrt()
        hidden = torch.ones(b, num_patches, device=images.device)
        hidden[:, :num_keep] = 0
        hidden = hidden.gather(1, restore)
        per_patch = ((pred - target) ** 2).mean(-1)
        return (per_patch * hidden).sum() / hidden.sum()


@dataclass
class PretrainConfig:
    """Hyper-parameters of :func:`pretrain_mae` (AdamW, warm-up + cosine, as in MAE)."""

    epochs: int = 20
    batch_size: int = 128
    lr: float = 1.5e-3
    weight_decay: float = 0.05
    warmup_epochs: float = 1.0
    mask_ratio: float = 0.75
    seed: int = 0
    device: str = "auto"


def pretrain_mae(
    lam: LAM, images: torch.Tensor, config: PretrainConfig | None = None, progress: bool = True
) -> list[dict[str, float]]:
    """Pretrain ``lam``'s ViT encoder with MAE on unlabelled ``images`` ``[N, C, H, W]``.

    Labels are never read. The decoder's initial weights, the drop-path draws, the shuffling,
    the augmentation and the masks all follow ``config.seed``; torch's global generators are
    left as they were. Returns the per-epoch history (``epoch``, ``loss``, ``wall_time_s``).
    """
    cfg = config or PretrainConfig()
    images, _ = as_tensors((images, torch.zeros(len(images), dtype=torch.long)))
    device = resolve_device(cfg.device)
    per_epoch = steps_per_epoch(len(images), cfg.batch_size)
    with seeded_global_rng(cfg.seed, device):
        mae = MaskedAutoencoder(lam, mask_ratio=cfg.mask_ratio).to(device)
        optimiser, schedule = adamw_warmup_cosine(
            mae.parameters(),
            lr=cfg.lr,
            weight_decay=cfg.weight_decay,
            warmup_epochs=cfg.warmup_epochs,
            num_epochs=cfg.epochs,
            steps_per_epoch=per_epoch,
            betas=(0.9, 0.95),
        )
        gen = torch.Generator().manual_seed(cfg.seed)
        mask_gen = torch.Generator(device=device).manual_seed(cfg.seed + 1)

        def step(idx: torch.Tensor) -> StepOutput:
            loss = mae(augment_batch(images[idx], gen).to(device), generator=mask_gen)
            optimiser_step(loss, optimiser, schedule)
            value = loss.item()
            return StepOutput({"loss": value}, {"loss": value * len(idx)})

        began = time.time()
        with progress_bar(progress, transient=False) as bar:
            return run_epochs(
                mae,
                step,
                num_examples=len(images),
                batch_size=cfg.batch_size,
                num_epochs=cfg.epochs,
                generator=gen,
                progress=BarProgress(bar, "MAE pretraining", cfg.epochs, per_epoch),
                end_epoch=WallTime(began),
            )


def head_parameters(lam: LAM) -> list[nn.Parameter]:
    """The task head's parameters: what a linear probe (frozen encoder) trains."""
    return list(lam.head.parameters())
