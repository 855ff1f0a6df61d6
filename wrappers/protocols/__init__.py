"""The wire formats: Seldon's message and the V2 (Open Inference) protocol, each parsed once and
answered from the contract."""
