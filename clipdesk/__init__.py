"""ClipDesk: local photo tagging and search with an on-device CLIP model."""

__version__ = "0.1.0"
