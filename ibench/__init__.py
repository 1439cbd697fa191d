"""ibench: benchmark and evaluation suite for image generation from multi-modal instructions."""

__version__ = "0.1.0"
