"""The theory's certified counterexamples trained: a structured decoder fits the mixed
latents as well as the true ones (``demo``)."""
