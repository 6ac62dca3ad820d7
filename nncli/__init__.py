"""nncli: train NumPy neural networks from YAML experiment files."""

__version__ = "0.2.0"
