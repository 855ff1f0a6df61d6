"""The V2 (Open Inference) protocol beside Seldon's, from the same contract and codecs.

``datatypes`` maps V2 datatypes to numpy and the contract, ``dataplane`` reads V2 requests
into the wrappers' inputs and answers them, ``rest`` serves it on Seldon's REST app and
``grpc_service`` on Seldon's gRPC server (``inference.GRPCInferenceService``).
"""
