"""Spiking networks: ANN->SNN conversion of task heads and of whole on-board parts (hybrid:
spiking where integrate-and-fire can carry the activations) on snnTorch neurons, QCFS training,
surrogate fine-tuning and NIR export."""

from __future__ import annotations

from spikesat.snn.convert import METHODS, SUPPORTED_LAYERS, convert
from spikesat.snn.features import SplitFeatures, lam_features
from spikesat.snn.finetune import finetune, finetune_onboard
from spikesat.snn.heads import head_energy, int8_head, spiking_head, task_head_of
from spikesat.snn.hybrid import HybridSNN, LayerRole, convert_onboard
from spikesat.snn.network import SpikingNetwork
from spikesat.snn.neurons import IFNeuron
from spikesat.snn.nir_export import export_nir, run_nir
from spikesat.snn.qcfs import QCFS, replace_relu_with_qcfs, train_qcfs
from spikesat.snn.surrogates import SURROGATES, list_surrogates
from spikesat.snn.sweep import accuracy, prefix_accuracies, sweep_num_steps

__all__ = [
    "METHODS",
    "QCFS",
    "SUPPORTED_LAYERS",
    "SURROGATES",
    "HybridSNN",
    "IFNeuron",
    "LayerRole",
    "SpikingNetwork",
    "SplitFeatures",
    "accuracy",
    "convert",
    "convert_onboard",
    "export_nir",
    "finetune",
    "finetune_onboard",
    "head_energy",
    "int8_head",
    "lam_features",
    "list_surrogates",
    "prefix_accuracies",
    "replace_relu_with_qcfs",
    "run_nir",
    "spiking_head",
    "sweep_num_steps",
    "task_head_of",
    "train_qcfs",
]
