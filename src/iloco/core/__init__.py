"""The shared core under the families: batched training engine and checkpoints, atomic io,
config loading and schema, provenance and code digests, TeX helpers, figure style, claims
machinery, the families' declarations and the ``iloco`` command."""
