"""``tfxkit serve``: the HTTP app (``app``: stored batch predictions by key, online
``/predict``, ``/feedback``, ``/canary``, health) run in uvicorn with the config's limits
(``http_server``, ``limits``), prediction-store calls behind a bounded gate with a circuit
breaker (``store_gate``), and the online service behind ``/predict``
(``online_service``: the loaded model versions and the canary controller), built from
JSON bodies (``json_body``), tf.Example encoding (``examples``), the micro-batcher
(``batcher``), a loaded model version (``arm``) and the feedback book (``feedback``)."""
