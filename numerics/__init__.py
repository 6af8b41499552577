"""Numerical side of interaction-asymmetry (torch + torch.func).

Generators as torch functions, supports, structured decoders of bounded cross-slot interaction
order, the training engine, identifiability metrics and cross-slot derivatives. Import the
submodules directly (``from numerics.metrics import slot_identifiability``); importing the
package itself stays light so that the command line starts fast.
"""
