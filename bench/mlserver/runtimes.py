"""MLServer custom runtimes for the heavy cases: one class for an image network, one for a
sentence encoder, each loading the model directory with ``peer_model`` (copied beside this
file) and predicting on the whole batch MLServer's adaptive batching hands it."""

from mlserver import MLModel
from mlserver.codecs import NumpyCodec, StringCodec
from mlserver.types import InferenceRequest, InferenceResponse
from peer_model import PeerModel


class PeerRuntime(MLModel):
    async def load(self) -> bool:
        extra = self.settings.parameters.extra or {}
        self.model = PeerModel(self.settings.parameters.uri, int(extra.get("threads", 1)))
        self.output = self.model.manifest["outputs"][0]["name"]
        return True

    async def predict(self, payload: InferenceRequest) -> InferenceResponse:
        given = payload.inputs[0]
        if self.model.text:
            texts = StringCodec.decode_input(given)
            batch = [t.decode() if isinstance(t, bytes) else t for t in texts]
        else:
            batch = NumpyCodec.decode_input(given)
        answer = self.model.predict(batch)
        return InferenceResponse(
            model_name=self.name, outputs=[NumpyCodec.encode_output(self.output, answer)]
        )
