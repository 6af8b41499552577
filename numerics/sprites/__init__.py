"""Multi-object sprites: renderer, Transformer slot VAE with interaction penalty, JIS/J-ARI."""
