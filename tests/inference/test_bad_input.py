"""Bad requests, names and cuts get one clear error each."""

from __future__ import annotations

import pytest
import torch

from spikesat.inference import get_task, multitask_lam, run_requests, service_graph


@pytest.fixture(scope="module")
def mtl():
    return multitask_lam("vit-micro-p8", tasks=("landcover", "cloud")).eval()


def test_requests(mtl):
    rgb = torch.zeros(2, 3, 64, 64)
    with pytest.raises(TypeError, match="inputs must be a dict modality -> images"):
        mtl(rgb)
    with pytest.raises(ValueError, match="at least one modality"):
        mtl({})
    with pytest.raises(ValueError, match="unknown modality 'sar': this model takes rgb, ms"):
        mtl({"sar": rgb})
    with pytest.raises(ValueError, match=r"inputs\['ms'\] must have shape \[B, 13, 64, 64\]"):
        mtl({"ms": rgb})
    with pytest.raises(ValueError, match=r"inputs\['rgb'\] holds 1 NaN"):
        bad = rgb.clone()
        bad[0, 0, 0, 0] = float("nan")
        mtl({"rgb": bad})
    with pytest.raises(ValueError, match="different batch sizes"):
        mtl({"rgb": rgb, "ms": torch.zeros(3, 13, 64, 64)})


def test_names_and_cuts(mtl):
    with pytest.raises(ValueError, match="unknown task 'ndwi'.*cloud"):
        get_task("ndwi")
    with pytest.raises(ValueError, match="unknown task 'ndwi'"):
        multitask_lam(tasks=("landcover", "ndwi"))
    with pytest.raises(ValueError, match="unknown modality 'sar'; built in: rgb, ms"):
        multitask_lam(modalities=("rgb", "sar"))
    with pytest.raises(ValueError, match="tasks repeat"):
        multitask_lam(tasks=("cloud", "cloud"))
    with pytest.raises(ValueError, match="cannot cut after 'blocks.7': choose one of blocks.0"):
        multitask_lam(split_at="blocks.7")
    with pytest.raises(ValueError, match="cannot cut after 'blocks.3'"):
        service_graph(mtl, cuts=["blocks.3"])
    with pytest.raises(ValueError, match="in block order"):
        service_graph(mtl, cuts=["blocks.2", "blocks.0"])
    with pytest.raises(ValueError, match="spiking head for unknown task 'ndvi'"):
        service_graph(mtl, spiking_heads={"ndvi": torch.nn.Identity()})
    with pytest.raises(ValueError, match="needs a ViT LAM"):
        multitask_lam("resnet18")
    graph = service_graph(mtl)
    with pytest.raises(ValueError, match="unknown service 'head:ndvi'; services: tokenizer:rgb"):
        graph.service("head:ndvi")
    with pytest.raises(ValueError, match="hardware for unknown service"):
        run_requests(graph, {"rgb": torch.zeros(1, 3, 64, 64)}, hardware={"head:x": "loihi"})


def test_a_sensor_with_no_shared_band_gets_a_fresh_tokenizer_not_an_adapter():
    mtl = multitask_lam(modalities={"rgb": ("B04", "B03", "B02"), "sar": ("VV", "VH")})
    assert mtl.pretrained_tokenizers == {"rgb"}
    out = mtl({"sar": torch.zeros(1, 2, 64, 64)})
    assert set(out) == {"landcover", "cloud", "ndvi"}


def test_a_graph_whose_services_do_not_connect(mtl):
    from dataclasses import replace

    from spikesat.inference import ServiceGraph

    graph = service_graph(mtl)
    services = dict(graph.services)
    services["head:cloud"] = replace(services["head:cloud"], inputs=("backbone:7",))
    with pytest.raises(ValueError, match="takes 'backbone:7'.*do not connect"):
        ServiceGraph(services, graph.edges, graph.modalities, graph.tasks, graph.img_size)
    del services["head:cloud"]
    with pytest.raises(ValueError, match=r"no head service for tasks \['cloud'\]"):
        ServiceGraph(services, graph.edges, graph.modalities, graph.tasks, graph.img_size)
