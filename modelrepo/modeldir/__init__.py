"""A model directory: made from an artifact (scaffold, importers), checked, and given its serving
files and SeldonDeployment."""
