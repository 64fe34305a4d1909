"""Pure-PyTorch reference ops, each paired with an optional CUDA kernel of the same signature (`kernels.py`)."""
