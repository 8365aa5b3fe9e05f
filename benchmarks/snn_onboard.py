"""The on-board part of a LAM as a spiking network: accuracy, spikes, joules and the spikes as
the transmitted payload, against the FP32 and INT8 ANN of the same part and SpikingJelly, on
EuroSAT RGB.

The LAM (``--model``: the shipped reference ``resnet9`` by default; ``resnet18`` or
``vit-micro-p8`` trained here on the EuroSAT RGB train split, cached under SPIKESAT_CACHE) is
cut at each split point and its on-board part converted whole with ``snn.convert_onboard``
(BatchNorm folded, every ReLU an integrate-and-fire layer, rate-gated max-pools, the analog
input convolution once per inference; in a ViT the GELUs spike as ReLUs and LayerNorm and
attention stay analog). The ANN remote part answers on the SNN's rate output. Rows per split,
for T in {1, 2, 4, 8, 16, 32}:

* ``ann-fp32`` / ``ann-int8``: the part as it is, and FX post-training INT8;
* ``snn-max`` / ``snn-percentile``: thresholds from 512 training images' activations;
* ``snn-qcfs``: the LAM fine-tuned with QCFS activations in place of its ReLUs (and GELUs)
  (L quantisation levels, ``snn.replace_relu_with_qcfs`` + ``snn.train_qcfs`` on training
  images; its own FP32 / INT8 rows are ``ann-qcfs-fp32`` / ``ann-qcfs-int8``), converted
  with its learned thresholds;
* ``snn-qcfs-ft-r<w>``: that SNN fine-tuned at T = ``--ft-steps`` with surrogate gradients and
  a spike-rate loss of weight ``w`` (``snn.finetune_onboard``), the accuracy-energy curve;
* ``spikingjelly-max`` / ``spikingjelly-99.9%``: SpikingJelly's ``ann2snn`` Converter on the
  same part (the peer; it converts ReLUs only, so a GELU part has no peer row);
* ``codec-factorized``: the learned feature codec (CompressAI factorized prior, trained at the
  split for the remote part) on the ANN's features, the payload the spikes compete with
  (where the part ends in neurons: a ViT block ends in a residual sum, graded, not spikes).

Per SNN row: accuracy on the test images, spike rate, synaptic ops, analog MACs, joules per
inference (``energy.count_ops`` + ``energy_joules``: memory traffic and neuron updates
included) on 45 nm FP32 / INT8, Jetson TX2 NX, Loihi and SpiNNaker 2, the break-even spike rate
(at which it would spend a third of the INT8 ANN's joules), and for spikesat's SNNs the spike
payload: the spikes at the cut coded losslessly by ``codecs.create("spikes", C)`` (wire bytes
per image), against the cheapest learned-codec point at least as accurate.

Goals (issue 19): <= 1 point below the ANN at T <= 4; >= 3x fewer joules than the INT8 ANN of
the same part on a neuromorphic profile, or the spike rate each setting would need; the spike
payload within 2x the bytes of the learned codec at equal accuracy.

Run: ``python benchmarks/snn_onboard.py`` (resnet9; results ``snn_onboard.*``),
``--model resnet18 --lam-epochs 6 --num-test 500`` or ``--model
vit-micro-p8 --lam-epochs 10 --num-test 500`` (``snn_onboard-<model>.*``),
or ``--quick`` (64 test images, T in {1, 4}, one split, short training: a smoke run, not a
result).
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from typing import Any

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
import spikesat.models as models
from _lams import trained_lam
from _report import RESULTS_DIR, headline, write_results
from _spikingjelly import spikingjelly_rows
from spikesat.codecs import CodecTrainConfig, evaluate_codec, train_lambda_sweep
from spikesat.data import eurosat
from spikesat.energy import count_ops
from spikesat.snn import convert_onboard, finetune_onboard, replace_relu_with_qcfs, train_qcfs
from spikesat.snn.onboard_sweep import NEUROMORPHIC, score_onboard, sweep_onboard

PROFILES = ("cmos45nm-fp32", "cmos45nm-int8", "jetson-tx2nx", *NEUROMORPHIC)
SPLITS = {
    "resnet9": "layer1,layer2",
    "resnet18": "layer1,layer2",
    "vit-micro-p8": "blocks.1,blocks.3",
}


def parse_args() -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--quick", action="store_true")
    p.add_argument("--data-dir", default=None, help="EuroSAT RGB (default: SPIKESAT_DATA_DIR)")
    p.add_argument("--model", default="resnet9", help="zoo LAM (trained here if not shipped)")
    p.add_argument("--lam-epochs", type=int, default=8, help="for a LAM without shipped weights")
    p.add_argument("--splits", default=None, help="default: two per model (SPLITS)")
    p.add_argument("--methods", default="max,percentile")
    p.add_argument("--steps", default="1,2,4,8,16,32")
    p.add_argument("--num-test", type=int, default=1000)
    p.add_argument("--num-calibration", type=int, default=512)
    p.add_argument("--num-train", type=int, default=8000, help="QCFS, fine-tuning, codec")
    p.add_argument("--num-levels", type=int, default=4, help="QCFS quantisation levels L")
    p.add_argument("--qcfs-epochs", type=int, default=4)
    p.add_argument("--ft-steps", type=int, default=4)
    p.add_argument("--ft-rate-weights", default="0,1")
    p.add_argument("--ft-images", type=int, default=2000)
    p.add_argument("--codec-lambdas", default="0.0005,0.002")
    p.add_argument("--codec-epochs", type=int, default=3)
    p.add_argument("--payload-images", type=int, default=256)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", default=str(RESULTS_DIR))
    return p.parse_args()


def progress(row: dict[str, Any]) -> None:
    """One line per finished row (long runs)."""
    print(
        f"{row['split']} {row['model']} T={row.get('num_steps', 0)}: "
        f"{100 * row['accuracy']:.2f}%", flush=True
    )  # fmt: skip


def images(split: str, count: int, data_dir: str | None, seed: int) -> tuple[torch.Tensor, ...]:
    """A seeded subset of a EuroSAT RGB split: ``(images [N, 3, 64, 64], labels [N])``."""
    data = eurosat(data_dir, split=split, seed=seed)
    pick = torch.randperm(len(data), generator=torch.Generator().manual_seed(seed))[:count]
    items = [data[int(i)] for i in pick]
    return torch.stack([x for x, _ in items]), torch.tensor([y for _, y in items])


def batched(module: torch.nn.Module, x: torch.Tensor, batch_size: int = 256) -> torch.Tensor:
    """``module`` on ``x`` in batches, without gradients."""
    with torch.no_grad():
        return torch.cat([module(x[i : i + batch_size]) for i in range(0, len(x), batch_size)])


def codec_rows(sm: Any, at: str, train: tuple, test: tuple, args: argparse.Namespace) -> list:
    """The learned feature codec at the split: one row per lambda (bytes and accuracy)."""
    feats, tr_feats = batched(sm.onboard, test[0]), batched(sm.onboard, train[0])
    entries = train_lambda_sweep(
        "factorized", tr_feats.shape[1], [float(v) for v in args.codec_lambdas.split(",")],
        tr_feats, train[1], sm.remote,
        codec_kwargs={"latent_channels": 8, "hidden_channels": 128, "downsample": 0},
        config=CodecTrainConfig(
            num_epochs=args.codec_epochs, batch_size=64, lr=5e-3, seed=args.seed
        ),
    )  # fmt: skip
    rows = []
    for entry in entries:
        result = evaluate_codec(entry.codec, feats, test[1], sm.remote)
        rows.append(
            {"model": "codec-factorized", "split": at, "num_steps": 0, "lmbda": entry.lmbda,
             "accuracy": result["accuracy"], "payload_bytes": result["bytes_per_example"]}
        )  # fmt: skip
    return rows


def finetuned_rows(sm: Any, at: str, calibration, train, test, target_j, payload, args) -> list:
    """The QCFS-converted part fine-tuned at ``--ft-steps`` with each spike-rate weight."""
    rows = []
    ft_data = (train[0][: args.ft_images], train[1][: args.ft_images])
    sample = test[0][:16]
    for weight in [float(w) for w in args.ft_rate_weights.split(",")]:
        snn = convert_onboard(sm.onboard, calibration, num_steps=args.ft_steps, method="qcfs")
        began = time.time()
        history = finetune_onboard(
            snn, sm.remote, ft_data, num_steps=args.ft_steps, rate_weight=weight, epochs=1,
            lr=1e-4, batch_size=32, seed=args.seed,
        )  # fmt: skip
        row = score_onboard(
            snn, sm.remote, test[0], test[1], sample, PROFILES, target_j,
            payload_examples=payload, ann_ops=count_ops(sm.onboard, sample).per_example(),
        )  # fmt: skip
        rows.append(
            {"model": f"snn-qcfs-ft-r{weight:g}", "split": at, **row,
             "finetune": {"history": history, "wall_s": time.time() - began}}
        )  # fmt: skip
    return rows


def equal_accuracy_codec(row: dict, codecs: list[dict]) -> dict:
    """The cheapest learned-codec point at least as accurate as ``row``, else the most accurate."""
    good = [c for c in codecs if c["accuracy"] >= row["accuracy"]]
    return min(good, key=lambda c: c["payload_bytes"]) if good else max(
        codecs, key=lambda c: c["accuracy"]
    )  # fmt: skip


def load_lam(args: argparse.Namespace) -> tuple[torch.nn.Module, dict[str, Any]]:
    """The shipped reference LAM, or a zoo model trained here (cached)."""
    if args.model in models.list_models(pretrained=True):
        info = models.pretrained_info(args.model)
        lam = models.create(args.model, pretrained=True).eval()
        return lam, {"shipped": True, **{k: info[k] for k in ("test_accuracy", "epochs", "file")}}
    lam, info = trained_lam(args.model, args.lam_epochs, args.seed, quick=args.quick)
    return lam, {"shipped": False, **{k: v for k, v in info.items() if k != "history"}}


def ends_in_neurons(lam: torch.nn.Module, at: str, calibration: torch.Tensor) -> bool:
    """Whether the part cut at ``at`` ends in spiking neurons (its spikes can be the payload)."""
    part = models.split(lam, at=at).onboard
    try:
        convert_onboard(part, calibration, num_steps=1, gelu="relu").forward_spikes(calibration[:2])
    except ValueError:
        return False
    return True


def main() -> None:
    args = parse_args()
    started = time.time()
    if args.splits is None:
        if args.model not in SPLITS:
            raise SystemExit(f"--splits is required for {args.model!r} (defaults: {SPLITS})")
        args.splits = SPLITS[args.model]
    if args.quick:
        args.splits, args.methods, args.steps = args.splits.split(",")[-1], "percentile", "1,4"
        args.lam_epochs = 1
        args.num_test, args.num_calibration, args.num_train = 64, 64, 256
        args.qcfs_epochs, args.ft_images, args.ft_rate_weights = 1, 64, "0"
        args.codec_lambdas, args.codec_epochs, args.payload_images = "0.002", 1, 32
    steps = [int(t) for t in args.steps.split(",")]
    splits = args.splits.split(",")
    began = time.time()
    lam, info = load_lam(args)
    walls: dict[str, float] = {"lam": time.time() - began}
    calibration, _ = images("train", args.num_calibration, args.data_dir, args.seed)
    train = images("train", args.num_train, args.data_dir, args.seed + 1)
    test = images("test", args.num_test, args.data_dir, args.seed)
    sample = test[0][:16]
    has_gelu = any(isinstance(m, torch.nn.GELU) for m in lam.modules())
    gelu = "relu" if has_gelu else "analog"  # a ViT spikes at its GELUs (an approximation)
    spiking_cut = {at: ends_in_neurons(lam, at, calibration) for at in splits}
    payload = {at: args.payload_images if spiking_cut[at] else 0 for at in splits}
    rows: list[dict[str, Any]] = []

    began = time.time()
    for at in splits:
        rows += sweep_onboard(
            lam, at, calibration, *test, steps=steps, methods=args.methods.split(","),
            hardware=PROFILES, payload_examples=payload[at], gelu=gelu,
            on_row=progress,
        )  # fmt: skip
    walls["conversion"] = time.time() - began

    began = time.time()
    qcfs_lam = replace_relu_with_qcfs(
        lam, args.num_levels, calibration_data=calibration, include_gelu=has_gelu
    )
    qcfs_history = train_qcfs(
        qcfs_lam, train, epochs=args.qcfs_epochs, lr=3e-4, batch_size=64, seed=args.seed
    )
    qcfs_lam.eval()
    walls["qcfs_training"] = time.time() - began
    began = time.time()
    renamed = {"ann-fp32": "ann-qcfs-fp32", "ann-int8": "ann-qcfs-int8"}
    for at in splits:
        for r in sweep_onboard(
            qcfs_lam, at, calibration, *test, steps=steps, methods=("qcfs",), hardware=PROFILES,
            payload_examples=payload[at], on_row=progress,
        ):  # fmt: skip
            rows.append({**r, "model": renamed.get(r["model"], r["model"])})
    walls["qcfs_conversion"] = time.time() - began

    ann = {r["split"]: r for r in rows if r["model"] == "ann-fp32"}
    int8 = {r["split"]: r for r in rows if r["model"] == "ann-int8"}
    began = time.time()
    for at in splits:
        target = int8[at]["cmos45nm-int8_j"] / 3.0
        rows += finetuned_rows(
            models.split(qcfs_lam, at=at), at, calibration, train, test, target, payload[at], args
        )
        progress(rows[-1])
    walls["finetuning"] = time.time() - began

    began = time.time()
    for at in splits:  # SpikingJelly's converter replaces ReLUs only: no peer for GELU parts
        sm = models.split(lam, at=at)
        if any(isinstance(m, torch.nn.ReLU) for m in sm.onboard.modules()):
            theirs = spikingjelly_rows(
                sm.onboard, calibration, *test, steps, PROFILES, sample, remote=sm.remote
            )
            rows += [{**r, "split": at} for r in theirs]
            progress(rows[-1])
    walls["spikingjelly"] = time.time() - began

    began = time.time()
    codecs: dict[str, list[dict]] = {}
    for at in splits:  # the learned codec the spike payload competes with
        if payload[at]:
            codecs[at] = codec_rows(models.split(lam, at=at), at, train, test, args)
            rows += codecs[at]
    walls["codec"] = time.time() - began

    snn = [r for r in rows if r["model"].startswith(("snn-", "spikingjelly-"))]
    for r in snn:
        r["accurate"] = r["accuracy"] >= ann[r["split"]]["accuracy"] - 0.01
        r["int8_over_snn"] = {
            p: int8[r["split"]]["cmos45nm-int8_j"] / r[f"{p}_j"] for p in NEUROMORPHIC
        }
        if "payload_bytes" in r:
            peer = equal_accuracy_codec(r, codecs[r["split"]])
            r["payload_vs_codec"] = {
                "codec_lmbda": peer["lmbda"], "codec_bytes": peer["payload_bytes"],
                "codec_accuracy": peer["accuracy"],
                "ratio": r["payload_bytes"] / peer["payload_bytes"],
                "codec_at_least_as_accurate": peer["accuracy"] >= r["accuracy"],
            }  # fmt: skip
    low_t = [r for r in snn if r["num_steps"] <= 4]
    accurate_low_t = [r for r in low_t if r["accurate"]]
    if accurate_low_t:  # the cheapest accurate low-latency SNN, else the most accurate one
        best = max(accurate_low_t, key=lambda r: max(r["int8_over_snn"].values()))
    else:
        best = max(low_t, key=lambda r: r["accuracy"])
    profile = max(best["int8_over_snn"], key=best["int8_over_snn"].get)
    gain = best["int8_over_snn"][profile]
    sent = [r for r in snn if "payload_vs_codec" in r and r["accurate"]]

    def label(r: dict) -> str:
        return f"{r['model']}@{r['split']} T={r['num_steps']}"

    goals = {
        "accurate_at_t_le_4": [label(r) for r in accurate_low_t],
        "accurate_and_3x_below_int8": [
            label(r) for r in snn if r["accurate"] and max(r["int8_over_snn"].values()) >= 3
        ],
        "best_payload_ratio_within_1pt": min(
            (r["payload_vs_codec"]["ratio"] for r in sent), default=None
        ),
    }
    head = headline(
        figure=f"on-board SNN {best['model']} at {best['split']} T={best['num_steps']} on "
        f"{profile}: {best[f'{profile}_j']:.2e} J/inference, accuracy "
        f"{100 * best['accuracy']:.2f}% (ANN {100 * ann[best['split']]['accuracy']:.2f}%)"
        + ("" if accurate_low_t else "; no SNN at T <= 4 is within 1 point: the most accurate"),
        peer=f"INT8 ANN of the same part on cmos45nm-int8: "
        f"{int8[best['split']]['cmos45nm-int8_j']:.2e} J "
        f"({100 * int8[best['split']]['accuracy']:.2f}%)",
        ratio=1.0 / gain,
        goal="<= 1 point below the ANN at T <= 4 and >= 3x fewer joules than the INT8 ANN on a "
        "neuromorphic profile (ratio = SNN J / INT8 J <= 0.33)",
        met=any(max(r["int8_over_snn"].values()) >= 3 for r in accurate_low_t),
    )

    def fmt(value: Any, spec: str = ".3g") -> str:
        return "-" if value is None else format(value, spec)

    columns = [
        "split", "model", "T", "acc %", "spike rate", "synops", "MACs",
        *[f"{p} J" for p in PROFILES], "rate for INT8/3 (loihi, spinnaker2)",
        "payload B/img", "x learned codec (its acc %)",
    ]  # fmt: skip
    table = []
    for r in rows:
        vs = r.get("payload_vs_codec")
        table.append([
            r["split"], r["model"] + (f" lambda={r['lmbda']:g}" if "lmbda" in r else ""),
            r["num_steps"] or "-", f"{100 * r['accuracy']:.2f}",
            fmt(r.get("spike_rate"), ".3f"), r.get("synops", "-"), r.get("macs", "-"),
            *(fmt(r.get(f"{p}_j")) for p in PROFILES),
            ", ".join(f"{v:.3g}" for v in r["break_even_rate"].values())
            if "break_even_rate" in r else "-",
            fmt(r.get("payload_bytes"), ".1f"),
            "-" if vs is None else f"{vs['ratio']:.1f} ({100 * vs['codec_accuracy']:.1f})",
        ])  # fmt: skip

    def plot(fig) -> None:
        for i, at in enumerate(splits):
            ax = fig.add_subplot(2, len(splits), i + 1)
            for model in dict.fromkeys(r["model"] for r in snn if r["split"] == at):
                pts = [(r["loihi_j"], 100 * r["accuracy"], r["num_steps"]) for r in snn
                       if r["split"] == at and r["model"] == model]  # fmt: skip
                ax.plot([p[0] for p in pts], [p[1] for p in pts], marker="o", ms=3, label=model)
                for x, y, t in pts:
                    ax.annotate(
                        f"T={t}", (x, y), fontsize=5, xytext=(2, 2), textcoords="offset points"
                    )
            ax.scatter([int8[at]["cmos45nm-int8_j"]], [100 * int8[at]["accuracy"]], marker="*",
                       s=150, color="k", label="INT8 ANN, 45 nm", zorder=5)  # fmt: skip
            ax.set_xscale("log")
            ax.set_xlabel("J per inference (SNN on Loihi)")
            ax.set_ylabel("test accuracy (%)")
            ax.set_title(f"{args.model} on board to {at}" + (" (quick)" if args.quick else ""))
            ax.legend(fontsize=5)
            if at not in codecs:
                continue
            ax = fig.add_subplot(2, len(splits), len(splits) + i + 1)
            spikes = [r for r in snn if r["split"] == at and "payload_bytes" in r]
            ax.scatter(
                [r["payload_bytes"] for r in spikes],
                [100 * r["accuracy"] for r in spikes],
                s=12,
                label="spike payload (SNN)",
            )
            ax.plot([c["payload_bytes"] for c in codecs[at]],
                    [100 * c["accuracy"] for c in codecs[at]], marker="s", color="C3",
                    label="learned codec (ANN features)")  # fmt: skip
            ax.set_xscale("log")
            ax.set_xlabel("wire bytes per image")
            ax.set_ylabel("test accuracy (%)")
            ax.legend(fontsize=6)

    write_results(
        ("snn_onboard" if args.model == "resnet9" else f"snn_onboard-{args.model}")
        + ("_quick" if args.quick else ""),
        {"lam": {"model": args.model, **info}, "gelu": gelu, "spiking_cut": spiking_cut,
         "rows": rows, "goals": goals, "num_test": len(test[1]),
         "num_calibration": len(calibration), "num_train": len(train[1]),
         "qcfs": {"num_levels": args.num_levels, "epochs": args.qcfs_epochs,
                  "history": qcfs_history}, "wall_s": walls},
        columns,
        table,
        out_dir=args.out,
        started_s=started,
        notes="Energies per inference, memory traffic and neuron updates included; the INT8 ANN "
        "is priced on cmos45nm-int8 from the FP32 part's op count, its accuracy is the FX "
        "post-training-quantised part's. 'rate for INT8/3': the spike rate at which the SNN "
        "would spend a third of the INT8 ANN's joules (inf: the analog input stage and the "
        "neuron updates alone already spend more). Payload: the spikes at the cut of the first "
        f"{args.payload_images} test images through the lossless 'spikes' codec (wire bytes: "
        "headers and CRCs included), against the cheapest learned-codec point (factorized, "
        f"trained {args.codec_epochs} epochs on {len(train[1])} training images' ANN features) "
        "at least as accurate (else the most accurate, whose accuracy the column shows). "
        f"QCFS: L={args.num_levels}, {args.qcfs_epochs} epochs on {len(train[1])} training "
        f"images; fine-tuning: {args.ft_images} images, 1 epoch, T={args.ft_steps}."
        + (" QUICK configuration: not a result." if args.quick else ""),
        headline=head,
        plot=plot,
    )  # fmt: skip


if __name__ == "__main__":
    main()
