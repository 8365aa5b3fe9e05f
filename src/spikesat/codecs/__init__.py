"""Task-oriented codecs: entropy-coded learned codecs, analog JSCC, baselines, CRC packets.

>>> import spikesat.codecs as codecs
>>> codec = codecs.create("int8", in_channels=64)
>>> streams = codec.compress(features)          # one Bitstream per example
>>> x_hat = codec.decompress(streams)            # verifies every packet's CRC-32

Families: "float32", "float16", "int8" (baselines on features), "jpeg", "webp", "avif" (image
codecs on the raw image), "factorized", "hyperprior" (learned, CompressAI entropy coders) and
"deepjscc" (analog JSCC over a spikesat channel layer); "spikes" (lossless, on the binary spike
trains ``[T, B, ...]`` of a spiking network).
"""

from spikesat.codecs import deepjscc, factorized, hyperprior, image, int8, raw  # noqa: F401
from spikesat.codecs.base import Codec, DecodeResult, check_features
from spikesat.codecs.bitstream import (
    DEFAULT_MTU_BYTES,
    MIN_MTU_BYTES,
    Bitstream,
    BitstreamCheck,
    Packet,
)
from spikesat.codecs.checkpoints import codec_cache_dir, load_codec, save_codec
from spikesat.codecs.deepjscc import DeepJSCC
from spikesat.codecs.factorized import FactorizedCodec
from spikesat.codecs.hyperprior import HyperpriorCodec
from spikesat.codecs.image import ImageCodec
from spikesat.codecs.int8 import Int8Codec
from spikesat.codecs.learned import LearnedCodec
from spikesat.codecs.registry import CODECS, codec_names_by_id, create, list_codecs, register_codec
from spikesat.codecs.spikes import SpikeCodec, SpikeRate
from spikesat.codecs.training import (
    CodecTrainConfig,
    SweepEntry,
    bits_per_example,
    evaluate_codec,
    train_codec,
    train_lambda_sweep,
)
from spikesat.codecs.transmission import TransmissionResult, corrupt_packet, transmit

__all__ = [
    "CODECS",
    "DEFAULT_MTU_BYTES",
    "MIN_MTU_BYTES",
    "Bitstream",
    "BitstreamCheck",
    "Codec",
    "CodecTrainConfig",
    "DecodeResult",
    "DeepJSCC",
    "FactorizedCodec",
    "HyperpriorCodec",
    "ImageCodec",
    "Int8Codec",
    "LearnedCodec",
    "Packet",
    "SpikeCodec",
    "SpikeRate",
    "SweepEntry",
    "TransmissionResult",
    "bits_per_example",
    "check_features",
    "codec_cache_dir",
    "codec_names_by_id",
    "corrupt_packet",
    "create",
    "evaluate_codec",
    "list_codecs",
    "load_codec",
    "register_codec",
    "save_codec",
    "train_codec",
    "train_lambda_sweep",
    "transmit",
]
