"""Alerts (issue 19): a failed run, a model not blessed, a canary rollback, skew or drift
over its threshold, sent to the config's ``alerts:`` targets through apprise.

``fire(alerts_cfg, kind, title, message, details=None, ...)`` sends one alert and returns
``[(target label, ok, error)]``; it never raises into its caller and takes at most about
``alerts.timeout_s``. What is sent: ``message.py``; how: ``send.py``; the hooks that call
it: ``infra/run/outcome.py`` (``tfxkit run``), ``decision_alerter`` here (the canary in
``tfxkit serve``); ``tfxkit monitor`` calls ``fire(cfg.alerts, "skew" | "drift", ...)``.

Rests on ``pipelines`` alone (the config section ``pipelines/config/alerts.py``); ``run``,
``serving``, ``monitoring`` and ``cli`` may import it."""
from tfxkit.infra.alerts.message import Alert, build
from tfxkit.infra.alerts.send import decision_alerter, fire

__all__ = ["Alert", "build", "decision_alerter", "fire"]
