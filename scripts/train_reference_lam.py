"""Train the reference LAM that ships with spikesat: ResNet-9 on EuroSAT RGB.

The recipe is ``spikesat.inference.specialists.SPECIALISTS["eurosat-rgb"]`` (why ResNet-9 and
not ConvNeXt V2-Atto: that module's docstring): from scratch on the 70% train split of the seeded
EuroSAT split (the val split is watched, the test split touched once at the end), ``resnet9``
at width 32 on the native 64x64 pixels, an MLP head of 256; AdamW at peak lr 2e-3, weight
decay 0.05, batch 128, 2 warm-up epochs then cosine to zero over 40; label smoothing 0.1,
random dihedral symmetries and 4-pixel shifts.

The training state is written under ``$SPIKESAT_CACHE/specialists`` after every epoch, so an
interrupted run continues where it stopped (``--stop-after N`` trains N epochs and returns).
When all epochs are done, the weights are rounded to fp16, evaluated as they ship, and written
to the package (``spikesat/models/weights/``) with a manifest entry: test accuracy, recipe,
training time and the machine, so that ``models.create("resnet9", pretrained=True)`` loads
them. About an hour on 2 idle x86_64 cores.

    python scripts/train_reference_lam.py [--stop-after N] [--threads 2]
"""

from __future__ import annotations

import argparse

import torch


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--stop-after", type=int, default=None, help="epochs in this call")
    parser.add_argument("--threads", type=int, default=None, help="torch CPU threads")
    parser.add_argument("--data-dir", default=None, help="shared data (default: SPIKESAT_DATA_DIR)")
    args = parser.parse_args()
    if args.threads is not None:
        torch.set_num_threads(args.threads)

    from spikesat.inference.specialists import specialist_splits, train_specialist
    from spikesat.models.pretrained import write_pretrained
    from spikesat.train import evaluate

    splits = specialist_splits("eurosat-rgb", args.data_dir)
    lam, meta = train_specialist(
        "eurosat-rgb", args.data_dir, stop_after_epochs=args.stop_after, splits=splits
    )
    print(f"{meta['epochs_done']} of {meta['recipe']['epochs']} epochs done")
    if not meta["finished"]:
        return
    # Evaluate the weights as they ship: rounded to fp16 (cast back to fp32 on loading).
    lam.load_state_dict(
        {k: v.half().float() if v.is_floating_point() else v for k, v in lam.state_dict().items()}
    )
    test = evaluate(lam, splits.test)
    print(f"test accuracy {100 * test['accuracy']:.2f}% on {test['num_examples']} images (fp16)")
    write_pretrained(
        lam,
        tag="eurosat-rgb",
        meta={
            **{k: meta[k] for k in ("description", "classes", "recipe", "num_train", "machine")},
            "test_accuracy": test["accuracy"],
            "test_accuracy_fp32": meta["test_accuracy"],
            "num_test": test["num_examples"],
            "train_wall_time_s": meta["train_wall_time_s"],
            "epochs": meta["epochs_done"],
            "pixel_mean": list(splits.pixel_mean),
            "pixel_std": list(splits.pixel_std),
            "val_accuracy_per_epoch": [h["val_accuracy"] for h in meta["history"]],
            "command": "python scripts/train_reference_lam.py",
        },
    )


if __name__ == "__main__":
    main()
