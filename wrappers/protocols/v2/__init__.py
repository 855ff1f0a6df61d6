"""The V2 (Open Inference) protocol beside Seldon's, from the same contract and codecs.

``datatypes`` maps V2 datatypes to numpy and the contract, ``dataplane`` reads V2 requests into
the model's inputs and answers them; ``wrappers.server.v2_rest`` serves it on Seldon's REST app
and ``wrappers.server.v2_grpc`` on Seldon's gRPC server (``inference.GRPCInferenceService``).
"""
