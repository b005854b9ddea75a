"""The result archive of a scale (``archive/<scale>/``): its tables, manifest, restore and audit."""
