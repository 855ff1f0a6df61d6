"""TensorFlow: a SavedModel's serving signature, called without Keras."""
