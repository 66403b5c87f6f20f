"""traindoc: a training doctor for PyTorch. The public API lives here; importing it is cheap."""
