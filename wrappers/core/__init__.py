"""The serving core: a model directory's life cycle, manifest, safe formats, signatures, batching
and thread budget. It knows no wire format and imports no framework."""
