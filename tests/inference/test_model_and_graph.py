"""MultiTaskLAM and its service graph: the graph answers exactly like the model."""

from __future__ import annotations

import pytest
import torch

from spikesat.codecs import create as create_codec
from spikesat.inference import (
    list_tasks,
    load_graph,
    load_service,
    multitask_lam,
    run_requests,
    service_graph,
)
from spikesat.models import create
from spikesat.snn import convert


@pytest.fixture(scope="module")
def lam():
    return create("vit-micro-p8", seed=3).eval()


@pytest.fixture(scope="module")
def mtl(lam):
    return multitask_lam(lam, seed=1).eval()


def _request(batch: int = 3, seed: int = 0, modalities=("rgb", "ms")) -> dict:
    gen = torch.Generator().manual_seed(seed)
    bands = {"rgb": 3, "ms": 13}
    return {m: torch.randn(batch, bands[m], 64, 64, generator=gen) for m in modalities}


def test_task_registry_holds_the_three_tasks():
    assert {"landcover", "cloud", "ndvi"} <= set(list_tasks())


def test_rgb_requests_answer_landcover_exactly_as_the_lam(lam, mtl):
    x = _request(modalities=("rgb",))
    with torch.no_grad():
        out = mtl(x)
        assert torch.equal(out["landcover"], lam(x["rgb"]))
    assert out["landcover"].shape == (3, 10)
    assert out["cloud"].shape == (3,) and bool(((out["cloud"] >= 0) & (out["cloud"] <= 1)).all())
    assert out["ndvi"].shape == (3,) and bool((out["ndvi"].abs() <= 1).all())


def test_fusion_is_the_mean_of_the_modalities_tokens(mtl):
    x = _request()
    tokens = [mtl.tokenizers[m](x[m]) for m in ("rgb", "ms")]
    with torch.no_grad():
        fused = mtl.embed(*tokens)
        by_hand = mtl.embed((tokens[0] + tokens[1]) / 2)
    assert torch.allclose(fused, by_hand, atol=1e-6)
    with torch.no_grad():  # one modality passes through unchanged
        assert torch.equal(mtl.embed(tokens[1]), mtl.embed(tokens[1].clone()))


def test_the_ms_adapter_starts_as_the_true_colour_composite(lam, mtl):
    """B04, B03, B02 carry the RGB projection's weights; every other band starts at zero."""
    rgb = lam.patch_embed.patch_embed.proj.weight
    ms = mtl.tokenizers["ms"].proj.weight
    bands = mtl.modalities["ms"].bands
    for channel, band in enumerate(("B04", "B03", "B02")):
        assert torch.equal(ms[:, bands.index(band)], rgb[:, channel])
    others = [i for i, b in enumerate(bands) if b not in ("B04", "B03", "B02")]
    assert float(ms[:, others].abs().max()) == 0.0
    assert mtl.pretrained_tokenizers == {"rgb"}


@pytest.mark.parametrize("modalities", [("rgb",), ("ms",), ("rgb", "ms")])
@pytest.mark.parametrize("cuts", [None, ["blocks.0"], ["blocks.0", "blocks.2"]])
def test_graph_run_equals_the_model(mtl, modalities, cuts):
    graph = service_graph(mtl, cuts=cuts)
    x = _request(modalities=modalities)
    with torch.no_grad():
        expected = mtl(x)
    got = graph.run(x)
    assert set(got) == set(expected)
    for task in expected:
        assert torch.equal(got[task], expected[task]), task
    assert len([s for s in graph.services.values() if s.kind == "backbone"]) == len(cuts or [0]) + 1


def test_service_records_add_up(mtl, lam):
    graph = service_graph(mtl)
    kinds = {s.kind for s in graph.services.values()}
    assert kinds == {"tokenizer", "backbone", "head"}
    # The RGB path's MACs are the LAM's own, counted the same way.
    from spikesat.energy import count_ops

    rgb_path = ["tokenizer:rgb", "backbone:0", "backbone:1", "head:landcover"]
    lam_macs = count_ops(lam, torch.zeros(1, 3, 64, 64)).macs
    assert sum(graph.service(s).macs for s in rgb_path) == lam_macs  # fusion adds no MAC
    # parameters: every trainable tensor of the model belongs to exactly one service
    total = sum(s.param_bytes for s in graph.services.values())
    assert total == sum(p.numel() * 4 for p in mtl.parameters())
    edges = {(e.src, e.dst): e.num_bytes for e in graph.edges}
    assert edges[("input:rgb", "tokenizer:rgb")] == 3 * 64 * 64
    assert edges[("input:ms", "tokenizer:ms")] == 13 * 64 * 64 * 2
    assert edges[("backbone:0", "backbone:1")] == 65 * 64 * 4
    assert edges[("head:landcover", "output:landcover")] == 10 * 4
    assert all(s.peak_activation_bytes >= s.out_bytes for s in graph.services.values())


def test_a_codec_at_the_cut_counts_real_bitstream_bytes(mtl):
    codec = create_codec("int8", 64)
    graph = service_graph(mtl, codec=codec)
    encode = graph.service("encode@blocks.1")
    sample = {"rgb": torch.randn(1, 3, 64, 64, generator=torch.Generator().manual_seed(0))}
    sample["ms"] = torch.randn(1, 13, 64, 64, generator=torch.Generator().manual_seed(1))
    graph2 = service_graph(mtl, codec=codec, sample=sample)
    streams = graph2.service("encode@blocks.1").module.compress(
        graph2.service("backbone:0").module(
            mtl.tokenizers["rgb"](sample["rgb"]), mtl.tokenizers["ms"](sample["ms"])
        )
    )
    assert graph2.service("encode@blocks.1").out_bytes == len(streams[0].to_bytes())
    assert encode.out_bytes < 65 * 64 * 4  # int8 is smaller than the float32 tokens
    x = _request()
    with torch.no_grad():
        exact = mtl(x)
    coded = graph.run(x)
    assert (coded["landcover"] - exact["landcover"]).abs().max() < 0.5


def test_a_spiking_head_serves_a_task(mtl):
    features = mtl.features(_request(batch=16, seed=4)).detach()
    spiking = convert(mtl.heads["landcover"], features, num_steps=16, method="max")
    graph = service_graph(mtl, spiking_heads={"landcover": spiking})
    out = graph.run(_request(batch=2, seed=5))
    assert out["landcover"].shape == (2, 10)
    assert graph.service("head:landcover").ops.synops > 0


def test_saved_services_load_alone_and_the_graph_answers_the_same(mtl, tmp_path):
    graph = service_graph(mtl)
    graph.save(tmp_path)
    head = load_service(tmp_path, "head:cloud")
    assert head.kind == "head" and head.macs == graph.service("head:cloud").macs
    x = _request()
    loaded = load_graph(tmp_path).run(x)
    for task, value in graph.run(x).items():
        assert torch.equal(loaded[task], value)
    with pytest.raises(ValueError, match="unknown service 'head:sar'.*head:cloud"):
        load_service(tmp_path, "head:sar")
    with pytest.raises(FileNotFoundError, match="services.json"):
        load_service(tmp_path / "nowhere", "head:cloud")


def test_the_local_runtime_answers_like_the_model_and_books_joules(mtl):
    graph = service_graph(mtl)
    x = _request(batch=10, seed=6)
    result = run_requests(graph, x, batch_size=4, hardware="cmos45nm-fp32")
    with torch.no_grad():
        expected = {
            t: torch.cat([mtl({m: v[i : i + 4] for m, v in x.items()})[t] for i in range(0, 10, 4)])
            for t in mtl.tasks
        }
    for task in expected:
        assert torch.equal(result.outputs[task], expected[task])
    by_request = result.ledger.summary(by="inference")
    assert len(by_request) == 10
    per_request = [v["total_j"] for v in by_request.values()]
    assert per_request == pytest.approx([result.energy_per_request_j] * 10)
    assert result.num_requests == 10 and result.requests_per_s > 0
    assert set(result.time_s) == set(graph.services)
