"""iLOCO: implicit bias of gradient descent towards low-complexity networks, reproduced."""

__version__ = "0.1.0"
