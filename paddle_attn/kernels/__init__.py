"""Custom CPU kernels, built on first use; importing this package builds and loads nothing."""
