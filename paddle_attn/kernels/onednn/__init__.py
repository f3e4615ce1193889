"""oneDNN kernels as Paddle custom operators (the oneDNN Paddle's CPU wheel ships); built on first use by `build.py`."""
