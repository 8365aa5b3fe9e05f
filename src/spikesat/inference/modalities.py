"""Sensor modalities a multi-task LAM takes, and the band adapters that tokenise them.

A :class:`Modality` names a sensor product and its bands. Each modality gets its own
tokenizer (a patch projection, :class:`PatchTokenizer`). A tokenizer for a band set other than
the backbone's is a *band adapter*: its projection starts from the backbone's pretrained RGB
projection, with Sentinel-2's B04, B03 and B02 taking the R, G and B weights and every other
band starting at zero, so that an MS scene is first seen as its true-colour composite (EoS-FM's
13 -> 3 mapping, made learnable); training then lets the other bands in.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import torch
from torch import nn

from spikesat.data.eurosat import MS_BANDS

RGB_BANDS = ("B04", "B03", "B02")
"""EuroSAT RGB's channels, as Sentinel-2 bands (red, green, blue)."""


@dataclass(frozen=True)
class Modality:
    """A sensor product: its name and band names, in channel order.

    Attributes
    ----------
    name : str
        ``"rgb"``, ``"ms"`` or a caller's own.
    bands : tuple of str
        Band names in channel order (Sentinel-2 names where they apply).
    """

    name: str
    bands: tuple[str, ...]

    @property
    def num_bands(self) -> int:
        """Channels of an image of this modality."""
        return len(self.bands)


MODALITIES = {
    "rgb": Modality("rgb", RGB_BANDS),
    "ms": Modality("ms", tuple(MS_BANDS)),
}
"""The built-in modalities: EuroSAT RGB (3 bands) and Sentinel-2 MS (13 bands)."""


def resolve_modalities(modalities: Sequence[str] | Mapping[str, Sequence[str]]) -> list[Modality]:
    """Built-in names, or a mapping name -> band names for other sensors.

    Raises
    ------
    ValueError
        If there is none, a name is unknown (the choices are listed), repeated or has no band.
    """
    if isinstance(modalities, str):
        modalities = (modalities,)
    if isinstance(modalities, Mapping):
        out = [
            Modality(str(name), tuple(str(b) for b in bands)) for name, bands in modalities.items()
        ]
    else:
        out = []
        for name in modalities:
            if name not in MODALITIES:
                raise ValueError(
                    f"unknown modality {name!r}; built in: {', '.join(MODALITIES)} (pass a dict "
                    "name -> band names for another sensor)"
                )
            out.append(MODALITIES[name])
    if not out:
        raise ValueError("a multi-task LAM needs at least one modality")
    names = [m.name for m in out]
    if len(set(names)) != len(names):
        raise ValueError(f"modality names repeat: {names}")
    for modality in out:
        if not modality.bands:
            raise ValueError(f"modality {modality.name!r} has no bands")
    return out


class PatchTokenizer(nn.Module):
    """One modality's patch projection: images ``[B, bands, H, W]`` -> tokens ``[B, N, D]``.

    Parameters
    ----------
    modality : Modality
        Its bands.
    embed_dim, patch_size : int
        Token width and patch side (the backbone's).
    """

    def __init__(self, modality: Modality, embed_dim: int, patch_size: int) -> None:
        super().__init__()
        self.modality = modality
        self.proj = nn.Conv2d(modality.num_bands, embed_dim, patch_size, stride=patch_size)

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        return self.proj(images).flatten(2).transpose(1, 2)

    @torch.no_grad()
    def adapt_from(self, proj: nn.Conv2d, source_bands: Sequence[str]) -> int:
        """Start from another projection: bands both share copy their weights, the rest start
        at zero; returns how many bands were copied.

        Raises
        ------
        ValueError
            If the two band sets share no band (an adapter cannot be derived).
        """
        if (
            proj.weight.shape[0] != self.proj.weight.shape[0]
            or proj.kernel_size != self.proj.kernel_size
        ):
            raise ValueError("the source projection has another width or patch size")
        shared = [b for b in self.modality.bands if b in source_bands]
        if not shared:
            raise ValueError(
                f"modality {self.modality.name!r} (bands {list(self.modality.bands)}) shares no "
                f"band with {list(source_bands)}: no adapter can be derived; train its "
                "tokenizer from scratch instead"
            )
        self.proj.weight.zero_()
        for band in shared:
            self.proj.weight[:, self.modality.bands.index(band)] = proj.weight[
                :, list(source_bands).index(band)
            ]
        self.proj.bias.copy_(proj.bias)
        return len(shared)
