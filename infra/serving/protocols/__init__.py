"""Standard prediction protocols on the same server and micro-batcher as ``POST
/predict``: TensorFlow Serving's REST API (``tfserving.py``) and KServe's Open Inference
Protocol v2 (``kserve_v2.py``); what they share in ``common.py``."""


def add_routes(app, online, limits) -> None:
    """The TF Serving (``/v1/models/...``) and v2 (``/v2/...``) routes, answered by
    ``online`` (an ``OnlineService``) within the server's ``limits``."""
    from tfxkit.infra.serving.protocols import kserve_v2, tfserving

    tfserving.add_routes(app, online, limits)
    kserve_v2.add_routes(app, online, limits)
