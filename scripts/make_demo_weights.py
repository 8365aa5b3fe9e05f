"""Retrain the weights that ``spikesat demo`` ships with, by the demo's own recipe.

Writes ``src/spikesat/cli/demo/weights/``: the demo LAM (vit-micro-p8 on 4000 built-in scenes,
8 joint epochs plus a head re-fit on frozen features), the factorized codec trained at its
split, the QCFS copy of the LAM's head (the spiking head's source), and ``manifest.json`` with
the accuracies they reach on the built-in test scenes, the training wall times and the
hardware. ``tests/cli/test_demo_weights.py`` checks that the shipped files reproduce them.

    python scripts/make_demo_weights.py [--threads N]   # about 5 minutes wall on 2 idle cores

``--threads`` sets torch's CPU threads for the run (default: torch's own choice); on a busy
machine 1 thread avoids oversubscription. Results do not depend on it beyond float rounding.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import tempfile
import time
from pathlib import Path

import torch


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=None, help="torch CPU threads")
    args = parser.parse_args()
    if args.threads is not None:
        torch.set_num_threads(args.threads)

    from spikesat.cli.demo.codec import demo_codec
    from spikesat.cli.demo.lam import DEMO_SPLIT_AT, demo_lam, in_batches
    from spikesat.cli.demo.spiking import calibration_features, demo_qcfs_head
    from spikesat.cli.demo.weights import MANIFEST, SHIPPED_DIR
    from spikesat.models import split
    from spikesat.train import evaluate

    SHIPPED_DIR.mkdir(parents=True, exist_ok=True)
    for old in SHIPPED_DIR.glob("*.pt"):
        old.unlink()  # retrain from scratch, never from the files being replaced
    began = time.time()
    with tempfile.TemporaryDirectory() as cache:
        os.environ["SPIKESAT_CACHE"] = cache
        lam, splits, lam_meta = demo_lam("synthetic", None, seed=0, progress=True)
        sm = split(lam, at=DEMO_SPLIT_AT)
        codec, codec_meta = demo_codec(sm, splits.train, lam_meta["checkpoint"], 0, True)
        qcfs_head, _ = demo_qcfs_head(
            lam, calibration_features(lam, splits.train), lam_meta["checkpoint"], seed=0
        )
        lam_path = Path(lam_meta["checkpoint"])
        (codec_file,) = (Path(cache) / "codecs").glob("demo-*.pt")
        (qcfs_file,) = lam_path.parent.glob("qcfs-*.pt")
        for made in (lam_path, codec_file, qcfs_file):
            shutil.copy(made, SHIPPED_DIR / made.name)
    lam.eval()
    pooled = in_batches(lam.forward_features, splits.test[0])
    features = in_batches(sm.onboard, splits.test[0])
    with torch.no_grad():
        decoded = codec.decompress(codec.compress(features))
    manifest = {
        "lam": {
            "file": lam_path.name,
            "test_accuracy": evaluate(lam, splits.test)["accuracy"],
            **{k: v for k, v in lam_meta.items() if k not in ("checkpoint", "cached", "shipped")},
        },
        "codec": {
            "file": codec_file.name,
            "test_accuracy_decoded": evaluate(sm.remote, (decoded, splits.test[1]))["accuracy"],
            "train_wall_time_s": codec_meta["train_wall_time_s"],
            "lmbda": codec_meta["lmbda"],
        },
        "qcfs_head": {
            "file": qcfs_file.name,
            "test_accuracy": evaluate(qcfs_head, (pooled, splits.test[1]))["accuracy"],
        },
        "data": splits.name,
        "num_test": len(splits.test[1]),
        "wall_time_s": round(time.time() - began, 1),
        "hardware": f"{platform.machine()} CPU, {os.cpu_count()} cores, torch "
        f"{torch.__version__} ({torch.get_num_threads()} threads)",
        "command": "python scripts/make_demo_weights.py",
    }
    (SHIPPED_DIR / MANIFEST).write_text(json.dumps(manifest, indent=2) + "\n")
    print(json.dumps(manifest, indent=2))


if __name__ == "__main__":
    main()
