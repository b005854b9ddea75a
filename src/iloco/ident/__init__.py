"""ID: identifying networks from queries (ID1 shallow networks, ID2 two hidden layers, ID3 the
chain from trained students to compact networks). Declarations in ``spec`` (torch-free)."""
