"""spikesat: satellite edge AI with large models."""

__version__ = "0.1.0"
