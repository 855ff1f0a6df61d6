"""Cases where the model's own work dominates: an image CNN and a sentence encoder, served by
this repository (Seldon REST, V2 binary REST, V2 gRPC), by a naive Seldon user class, by
MLServer with adaptive batching and by TorchServe, beside the model alone in process."""
