"""TorchServe's handler for the heavy cases: the model directory named in ``source.json``
(archived beside this file with ``peer_model.py``), one batch per call, one answer per request:
an image's raw float32 bytes or a UTF-8 text in, the output row as a JSON list out."""

import json
from pathlib import Path

import numpy as np
from peer_model import PeerModel


class PeerHandler:
    def initialize(self, context) -> None:
        here = Path(context.system_properties["model_dir"])
        source = json.loads((here / "source.json").read_text())
        self.model = PeerModel(source["model_dir"], int(source["threads"]))

    def handle(self, data, context):
        bodies = [row.get("data") or row.get("body") for row in data]
        if self.model.text:
            batch = [bytes(b).decode() if isinstance(b, bytes | bytearray) else b for b in bodies]
        else:
            batch = np.stack([self.model.image(bytes(b)) for b in bodies])
        return [row.tolist() for row in self.model.predict(batch)]
