"""Argument checks shared by the channel models: one clear error per kind of bad input.

Every check names the bad value, the valid range and the fix, and raises ``ValueError`` (or
``TypeError`` for the wrong type). None of them clips or extrapolates silently. Tensor
checks (NaN in a batch, shapes) live in :mod:`spikesat._checks`, shared by every area.
"""

from __future__ import annotations

import numpy as np
import torch

from spikesat._checks import check_finite as check_finite_tensor


def check_distance_km(distance_km: object, what: str = "distance_km") -> np.ndarray:
    """Return ``distance_km`` as a float64 array, or raise if any value is negative or not finite.

    Raises
    ------
    ValueError
        If a distance is negative, NaN or infinite.
    """
    values = _as_float_array(distance_km, what)
    bad = ~np.isfinite(values) | (values < 0.0)
    if bad.any():
        raise ValueError(
            f"{what} must be finite and >= 0 km, got {values[bad].ravel()[:3].tolist()}; "
            "pass the slant range in kilometres"
        )
    return values


def check_elevation_deg(elevation_deg: object, what: str = "elevation_deg") -> np.ndarray:
    """Return ``elevation_deg`` as a float64 array, or raise if outside [-90, 90] deg or NaN."""
    values = _as_float_array(elevation_deg, what)
    bad = ~np.isfinite(values) | (values < -90.0) | (values > 90.0)
    if bad.any():
        raise ValueError(
            f"{what} must lie in [-90, 90] degrees, got {values[bad].ravel()[:3].tolist()}; "
            "pass the elevation angle of the satellite above the local horizon in degrees"
        )
    return values


def check_frequency_ghz(
    frequency_ghz: object, low_ghz: float, high_ghz: float, model: str
) -> np.ndarray:
    """Return ``frequency_ghz`` as an array, or raise if outside ``[low_ghz, high_ghz]``."""
    values = _as_float_array(frequency_ghz, "frequency_ghz")
    bad = ~np.isfinite(values) | (values < low_ghz) | (values > high_ghz)
    if bad.any():
        raise ValueError(
            f"frequency_ghz={values[bad].ravel()[:3].tolist()} is outside the validity range "
            f"of {model} ({low_ghz:g} to {high_ghz:g} GHz); the model is not extrapolated, "
            "use a frequency inside the range or another model"
        )
    return values


def check_positive(value: object, what: str) -> float:
    """Return ``value`` as a float, or raise if it is not a finite number > 0."""
    number = check_real_number(value, what)
    if number <= 0.0:
        raise ValueError(f"{what} must be > 0, got {number!r}")
    return number


def check_real_number(value: object, what: str) -> float:
    """Return ``value`` as a float, or raise if it is not a finite real number."""
    if isinstance(value, bool) or not isinstance(value, (int, float, np.floating, np.integer)):
        raise TypeError(f"{what} must be a real number, got {type(value).__name__} ({value!r})")
    number = float(value)
    if not np.isfinite(number):
        raise ValueError(f"{what} must be finite, got {number!r}")
    return number


def check_snr_db(snr_db: object, batch_size: int, device: torch.device) -> torch.Tensor:
    """Return ``snr_db`` as a float tensor of shape ``[batch_size]`` on ``device``.

    Accepts a Python/NumPy number, or a tensor/array of shape ``[]``, ``[1]`` or
    ``[batch_size]``.

    Raises
    ------
    ValueError
        If a value is NaN or infinite, or the shape does not broadcast to the batch.
    TypeError
        If ``snr_db`` is not a number, array or tensor.
    """
    if isinstance(snr_db, bool) or not isinstance(
        snr_db, (int, float, np.floating, np.integer, np.ndarray, torch.Tensor)
    ):
        raise TypeError(
            f"snr_db must be a float or a tensor of shape [B], got {type(snr_db).__name__}"
        )
    snr = torch.as_tensor(snr_db, dtype=torch.float64).to(device)
    if snr.ndim > 1 or (snr.ndim == 1 and snr.shape[0] not in (1, batch_size)):
        raise ValueError(
            f"snr_db must be a scalar or have shape [{batch_size}] (one value per example), "
            f"got shape {list(snr.shape)}"
        )
    check_finite_tensor(snr, "snr_db", "a NaN or infinite SNR has no physical meaning here")
    return snr.expand(batch_size) if snr.ndim == 1 else snr.repeat(batch_size)


def check_snr_array_db(snr_db: object, what: str = "snr_db") -> np.ndarray:
    """Return ``snr_db`` as a float64 array, or raise on NaN or infinite values."""
    values = _as_float_array(snr_db, what)
    if not np.isfinite(values).all():
        raise ValueError(
            f"{what} must be finite, got {values[~np.isfinite(values)][:3].tolist()}; "
            "a NaN or infinite SNR has no physical meaning here"
        )
    return values


def check_choice(value: object, choices: tuple[str, ...], what: str) -> str:
    """Return ``value`` if it is one of ``choices``, else raise naming the valid ones."""
    if not isinstance(value, str) or value not in choices:
        raise ValueError(f"{what}={value!r} is not valid; choose one of {', '.join(choices)}")
    return value


def _as_float_array(value: object, what: str) -> np.ndarray:
    if isinstance(value, torch.Tensor):
        value = value.detach().cpu().numpy()
    if isinstance(value, bool) or isinstance(value, str):
        raise TypeError(f"{what} must be a number or an array of numbers, got {value!r}")
    try:
        return np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError):
        raise TypeError(
            f"{what} must be a number or an array of numbers, got {type(value).__name__}"
        ) from None
