"""``tfxkit serve``: the HTTP app (``app``: stored batch predictions by key, online
``/predict``, ``/feedback``, ``/canary``, health) run in uvicorn with the config's limits
(``http_server``, ``limits``), prediction-store calls behind a bounded gate with a circuit
breaker (``store_gate``), and the online service behind ``/predict``
(``online_service``: start-up and the request path; ``canary_controller``: which model
versions are loaded and serve; ``service_config``: the service a config describes), built
from JSON bodies (``json_body``), tf.Example encoding (``examples``), the micro-batcher
(``batcher``), the CPU threads for big requests (``cpu_pool``), a loaded model version
(``arm``) and the feedback book (``feedback``)."""
