"""TensorFlow Lite export (``push.tflite``): conversion of the serving model, the check of
its outputs against the SavedModel's, and the files the registry keeps."""
