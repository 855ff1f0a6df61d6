"""The cookbook's recipe: joblib-load the model, one Flask route that calls ``model.predict``.

Run as the cookbook runs it, with Flask's own server: ``python flask_app.py MODEL PORT``.
"""

import sys

import joblib
import numpy as np
from flask import Flask, jsonify, request

app = Flask(__name__)
model = joblib.load(sys.argv[1])


@app.route("/predict", methods=["POST"])
def predict():
    data = request.get_json(force=True)
    prediction = model.predict(np.array(data["features"]))
    return jsonify({"prediction": prediction.tolist()})


if __name__ == "__main__":
    app.run(host="127.0.0.1", port=int(sys.argv[2]))
