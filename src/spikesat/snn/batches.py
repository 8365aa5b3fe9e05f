"""Reading the data arguments of the converters and trainers: tensors, pairs, data sets, loaders."""

from __future__ import annotations

from typing import Any

import torch

from spikesat._checks import check_finite, check_tensor


def labelled_tensors(data: Any, name: str = "data") -> tuple[torch.Tensor, torch.Tensor]:
    """Return ``(inputs [N, ...], labels [N])`` from a pair of tensors, a data set or batches.

    Accepted: a ``(inputs, labels)`` pair of tensors; an object with ``.tensors()`` (the
    spikesat data sets); a map-style data set of ``(input, label)`` items; an iterable of
    ``(inputs, labels)`` batches (a ``DataLoader``).

    Raises
    ------
    TypeError
        For any other kind of object.
    ValueError
        For an empty set, mismatched lengths or non-finite inputs.
    """
    if (
        isinstance(data, tuple | list)
        and len(data) == 2
        and all(isinstance(t, torch.Tensor) for t in data)
    ):
        inputs, labels = data
    elif hasattr(data, "tensors") and callable(data.tensors):
        inputs, labels = data.tensors()
    elif hasattr(data, "__getitem__") and hasattr(data, "__len__"):
        items = [data[i] for i in range(len(data))]
        if not items:
            raise ValueError(f"{name} is empty; pass at least one labelled example")
        inputs = torch.stack([torch.as_tensor(x) for x, _ in items])
        labels = torch.as_tensor([int(y) for _, y in items])
    elif hasattr(data, "__iter__"):
        pairs = list(data)
        if not pairs or not all(isinstance(p, tuple | list) and len(p) == 2 for p in pairs):
            raise TypeError(f"{name} batches must be (inputs, labels) pairs")
        inputs = torch.cat([torch.as_tensor(x) for x, _ in pairs])
        labels = torch.cat([torch.as_tensor(y) for _, y in pairs])
    else:
        raise TypeError(
            f"{name} must be (inputs, labels) tensors, a data set or an iterable of batches, "
            f"got {type(data).__name__}"
        )
    if len(inputs) == 0:
        raise ValueError(f"{name} is empty; pass at least one labelled example")
    if len(inputs) != len(labels):
        raise ValueError(f"{name}: {len(inputs)} inputs but {len(labels)} labels")
    check_finite(inputs, name)
    return inputs, labels.long()


def calibration_tensors(data: Any, shape: tuple | None = None) -> list[torch.Tensor]:
    """Return the calibration batches as a list of finite input tensors.

    ``data`` is a tensor batch ``[N, ...]``, or an iterable of batches, each a tensor or an
    ``(inputs, labels)`` pair (labels are ignored). ``shape`` is the input shape the model
    takes (see :func:`spikesat._checks.check_tensor`); by default any ``[N, ...]``.

    Raises
    ------
    TypeError
        For anything else.
    ValueError
        For an empty set, NaN / infinite values or a shape other than ``shape``.
    """
    if isinstance(data, torch.Tensor):
        batches = [data]
    elif hasattr(data, "__iter__"):
        batches = []
        for item in data:
            x = item[0] if isinstance(item, tuple | list) else item
            if not isinstance(x, torch.Tensor):
                raise TypeError(
                    f"calibration batches must be tensors or (inputs, labels) pairs, got "
                    f"{type(x).__name__}"
                )
            batches.append(x)
    else:
        raise TypeError(
            "calibration_data must be a tensor batch or an iterable of batches, got "
            f"{type(data).__name__}"
        )
    if not batches or sum(len(b) for b in batches) == 0:
        raise ValueError(
            "calibration_data is empty; pass a batch of representative inputs, e.g. a few "
            "hundred training features"
        )
    for i, b in enumerate(batches):
        check_tensor(
            b,
            "calibration_data" if len(batches) == 1 else f"calibration_data batch {i}",
            shape=shape,
            hint="pass inputs of the shape the model takes (e.g. pooled features [N, D] for a "
            "task head); NaN or infinite values would make the thresholds meaningless",
        )
    return batches
