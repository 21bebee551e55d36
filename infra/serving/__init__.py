"""``tfxkit serve``: the HTTP app (``app``) and the online service behind ``/predict`` (``online_service``)."""
