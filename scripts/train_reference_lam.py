"""Train the reference LAM that ships with spikesat: ConvNeXt V2-Atto on EuroSAT RGB.

The recipe (from scratch, on the 70% train split of the seeded EuroSAT split; the val split
is watched, the test split touched once at the end):

- ``convnextv2-atto`` at the native 64x64 pixels, drop-path 0.1, MLP head of 256;
- AdamW, peak lr 2e-3, weight decay 0.05, batch 128, 2 warm-up epochs then cosine to zero;
- label smoothing 0.1, random dihedral symmetries and 4-pixel shifts (``train.augment_batch``).

The training state is written under ``$SPIKESAT_CACHE/specialists`` after every epoch, so an
interrupted run continues where it stopped (``--stop-after N`` trains N epochs and returns).
When all epochs are done, the weights are written in fp16 to the package
(``spikesat/models/weights/``) with a manifest entry: test accuracy, epochs, wall time, the
hardware and torch version, so that ``models.create(name, pretrained=True)`` loads them.

    python scripts/train_reference_lam.py [--epochs 30] [--stop-after N] [--threads 2]
"""

from __future__ import annotations

import argparse
import platform
import time

import torch

RECIPE = dict(epochs=30, batch_size=128, lr=2e-3, weight_decay=0.05, warmup_epochs=2.0)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=RECIPE["epochs"])
    parser.add_argument("--stop-after", type=int, default=None, help="epochs in this call")
    parser.add_argument("--threads", type=int, default=None, help="torch CPU threads")
    parser.add_argument("--data-dir", default=None, help="EuroSAT RGB (default: the data dir)")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    if args.threads is not None:
        torch.set_num_threads(args.threads)

    import spikesat.models as models
    from spikesat.train import TrainConfig, evaluate, fit, load_splits

    splits = load_splits("eurosat", args.data_dir, "rgb", seed=args.seed)
    lam = models.create("convnextv2-atto", num_classes=len(splits.classes), seed=args.seed)
    config = TrainConfig(**{**RECIPE, "epochs": args.epochs}, seed=args.seed)
    state = (
        models.cache_dir()
        / "specialists"
        / f"convnextv2-atto-eurosat-rgb-e{args.epochs}-seed{args.seed}-state.pt"
    )
    state.parent.mkdir(parents=True, exist_ok=True)
    began = time.time()
    trained = fit(
        lam,
        splits.train,
        splits.val,
        config,
        checkpoint_path=state,
        resume=True,
        stop_after_epochs=args.stop_after,
    )
    print(f"{len(trained.history)}/{args.epochs} epochs, {time.time() - began:.0f} s this call")
    if len(trained.history) < args.epochs:
        return
    from spikesat.models.pretrained import write_pretrained

    # Evaluate the weights as they ship: rounded to fp16 (and cast back on loading).
    lam.load_state_dict(
        {k: v.half().float() if v.is_floating_point() else v for k, v in lam.state_dict().items()}
    )
    test = evaluate(lam, splits.test)
    print(f"test accuracy {100 * test['accuracy']:.2f}% on {test['num_examples']} images")
    write_pretrained(
        lam,
        tag="eurosat-rgb",
        meta=dict(
            test_accuracy=test["accuracy"],
            num_test=test["num_examples"],
            num_train=len(splits.train[1]),
            classes=list(splits.classes),
            pixel_mean=list(splits.pixel_mean),
            pixel_std=list(splits.pixel_std),
            recipe={**RECIPE, "epochs": args.epochs, "seed": args.seed},
            train_wall_time_s=sum(r["epoch_time_s"] for r in trained.history),
            history=trained.history,
            hardware=f"{platform.machine()} {platform.processor() or ''}".strip()
            + f", torch threads {torch.get_num_threads()}, device {trained.device}",
            torch=torch.__version__,
            command="python scripts/train_reference_lam.py --epochs " + str(args.epochs),
        ),
    )


if __name__ == "__main__":
    main()
