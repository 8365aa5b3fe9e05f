"""Band adapters: images of one Sentinel-2 band set mapped, by band name, onto another.

A model trained on one product takes another through an adapter that reorders, selects and
(where asked) fills bands by their Sentinel-2 names (EoS-FM maps 13 bands -> RGB as B4, B3, B2):

- ``"s2-l1c"`` (13 bands, EuroSAT MS order) -> ``"rgb"`` (B04, B03, B02): a selection;
- ``"s2-l2a"`` (12 bands: Level-2A products drop the B10 cirrus band) -> ``"s2-l1c"``: B10 is
  filled with a constant (``fill={"B10": value}``, or ``fill="eurosat-mean"`` for EuroSAT MS's
  band means, in its digital numbers);
- ``"rgbn"`` (B02, B03, B04, B08, the 4-band products) -> ``"rgb"``.

Band names are checked: an unknown band, a repeated band, or a target band the source lacks
with no fill is an error that names it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import torch
from torch import Tensor, nn

from spikesat.data.eurosat import MS_BANDS, MS_MEAN

BAND_SETS: dict[str, tuple[str, ...]] = {
    "s2-l1c": tuple(MS_BANDS),
    "s2-l2a": tuple(b for b in MS_BANDS if b != "B10"),
    "rgb": ("B04", "B03", "B02"),
    "rgbn": ("B02", "B03", "B04", "B08"),
}
"""Named band sets, each in its channel order."""
SENTINEL2_BANDS = frozenset(MS_BANDS)
"""The 13 band names of Sentinel-2's MSI."""
EUROSAT_MEAN_FILL = dict(zip(MS_BANDS, MS_MEAN, strict=True))
"""``fill="eurosat-mean"``: EuroSAT MS's per-band mean (digital numbers)."""


class BandAdapter(nn.Module):
    """Maps ``[B, len(source), H, W]`` images to ``[B, len(target), H, W]`` by band name.

    Attributes
    ----------
    source, target : tuple of str
        Band names in channel order.
    filled : dict of str to float
        Target bands the source lacks, with their constant value.
    """

    def __init__(
        self, source: tuple[str, ...], target: tuple[str, ...], filled: dict[str, float]
    ) -> None:
        super().__init__()
        self.source, self.target, self.filled = source, target, filled
        index = [source.index(b) if b in source else 0 for b in target]
        self.register_buffer("index", torch.tensor(index, dtype=torch.long), persistent=False)
        self.register_buffer(
            "from_source", torch.tensor([b in source for b in target]), persistent=False
        )
        values = [filled.get(b, 0.0) for b in target]
        self.register_buffer("fill", torch.tensor(values), persistent=False)

    def forward(self, x: Tensor) -> Tensor:
        """``[B, len(source), H, W]`` -> ``[B, len(target), H, W]``.

        Raises
        ------
        ValueError
            If ``x`` is not 4-D or its channel count is not the source's.
        """
        if x.dim() != 4 or x.shape[1] != len(self.source):
            raise ValueError(
                f"the band adapter takes [B, {len(self.source)}, H, W] images of bands "
                f"{list(self.source)}, got shape {tuple(x.shape)}"
            )
        out = x.index_select(1, self.index)
        mask = self.from_source.view(1, -1, 1, 1)
        return torch.where(mask, out, self.fill.to(out.dtype).view(1, -1, 1, 1))

    def extra_repr(self) -> str:
        return f"{len(self.source)} -> {len(self.target)} bands, filled {sorted(self.filled)}"


def band_adapter(
    source: str | Sequence[str],
    target: str | Sequence[str],
    fill: str | Mapping[str, float] | None = None,
) -> BandAdapter:
    """An adapter from one band set to another (see the module docstring).

    Parameters
    ----------
    source, target : str or sequence of str
        A name of :data:`BAND_SETS`, or Sentinel-2 band names in channel order.
    fill : {"eurosat-mean"} or mapping of str to float, optional
        Values of target bands the source lacks.

    Raises
    ------
    ValueError
        An unknown band-set name or band name, a repeated band, a target band the source lacks
        with no fill, or a fill for a band that needs none.
    """
    source_bands = _bands(source, "source")
    target_bands = _bands(target, "target")
    missing = [b for b in target_bands if b not in source_bands]
    if fill == "eurosat-mean":
        fill = {b: EUROSAT_MEAN_FILL[b] for b in missing}
    elif isinstance(fill, str):
        raise ValueError(f"fill must be 'eurosat-mean' or a mapping band -> value, got {fill!r}")
    fill = dict(fill or {})
    unfilled = [b for b in missing if b not in fill]
    if unfilled:
        raise ValueError(
            f"the source bands {list(source_bands)} lack the target bands {unfilled}: pass "
            "fill={band: value} (or fill='eurosat-mean'), or choose a target without them"
        )
    needless = sorted(set(fill) - set(missing))
    if needless:
        raise ValueError(f"fill names bands {needless} that the source has or the target lacks")
    return BandAdapter(source_bands, target_bands, {b: float(fill[b]) for b in missing})


def _bands(bands: str | Sequence[str], what: str) -> tuple[str, ...]:
    if isinstance(bands, str):
        if bands not in BAND_SETS:
            raise ValueError(
                f"unknown {what} band set {bands!r}; named sets: {', '.join(BAND_SETS)} (or "
                "pass Sentinel-2 band names)"
            )
        return BAND_SETS[bands]
    out = tuple(str(b) for b in bands)
    unknown = [b for b in out if b not in SENTINEL2_BANDS]
    if unknown or not out:
        raise ValueError(
            f"unknown {what} bands {unknown or '(none given)'}; Sentinel-2 bands are "
            f"{', '.join(MS_BANDS)}"
        )
    if len(set(out)) != len(out):
        raise ValueError(f"the {what} bands repeat: {list(out)}")
    return out
