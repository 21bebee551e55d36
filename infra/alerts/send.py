"""Sending an alert to the config's targets through apprise.

- ``webhook: URL``: apprise's ``json://`` (``jsons://`` for https) plugin POSTs its JSON
  body ``{"version": "1.0", "title", "message", "attachments": [], "type"}`` plus our
  fields ``kind``, ``use_case``, ``run_id``, ``model_version`` and ``details`` (apprise's
  payload extras); the URL's query parameters stay on the URL.
- ``slack: {webhook_url_env: NAME}``: the Slack incoming-webhook URL in ``$NAME`` through
  apprise's Slack plugin (webhook mode).
- ``apprise: NAME``: whatever apprise URL ``$NAME`` holds (email, Teams, PagerDuty, ...).

Each target is sent in a thread of its own with apprise's connect and read timeouts set
to ``timeout_s``, and ``fire`` waits at most ``timeout_s`` + 1 second for all of them:
a receiver that is down, answers 500 or never answers costs that long and no more, and
is returned (and printed on stderr) as ``(target, False, reason)``. Nothing printed holds
a URL's path, query or credentials, nor an environment variable's value."""
from __future__ import annotations

import logging
import os
import sys
import threading
import time
from typing import Any, Callable, Dict, List, Mapping, Optional, Tuple
from urllib.parse import parse_qsl, quote, urlsplit

from tfxkit.infra.alerts.message import Alert, build

Result = Tuple[str, bool, Optional[str]]


def fire(alerts_cfg, kind: str, title: str, message: str,
         details: Optional[Dict[str, Any]] = None, use_case: Optional[str] = None,
         run_id: Optional[str] = None, model_version: Optional[str] = None,
         env: Optional[Mapping[str, str]] = None, stderr=None) -> List[Result]:
    """Sends one alert of ``kind`` (``failed_run``, ``not_blessed``, ``canary_rollback``,
    ``skew``, ``drift``) to every target of ``alerts_cfg`` (the config's ``alerts``
    section; None: nothing) that listens to it. Returns ``[(target, ok, error)]``; never
    raises (a bad kind included: it is returned as an error), and a failure is printed to
    ``stderr`` as one line without secrets."""
    stderr = stderr or sys.stderr
    if alerts_cfg is None:
        return []
    try:
        alert = build(kind, title, message, details, use_case, run_id, model_version)
        targets = alerts_cfg.targets_for(kind)
        return send(alert, targets, alerts_cfg.timeout_s,
                    env=os.environ if env is None else env, stderr=stderr)
    except Exception as e:  # pylint: disable=broad-except
        _say(stderr, f"alert {kind!r} not sent: {type(e).__name__}: {e}")
        return [("alerts", False, f"{type(e).__name__}: {e}")]


def send(alert: Alert, targets, timeout_s: float, env: Mapping[str, str],
         stderr=None) -> List[Result]:
    """``alert`` to each of ``targets`` at once, each in its own thread; waits at most
    ``timeout_s`` + 1 s in all."""
    stderr = stderr or sys.stderr
    if not targets:
        return []
    capture = _Capture()
    log = logging.getLogger("apprise")
    redact = _Redact([s for t in targets for s in secrets_of(t, env)])
    log.addFilter(redact)  # apprise's own log lines (any level) lose the URLs' secrets
    log.addHandler(capture)
    # apprise says why a send failed in a WARNING: when the process keeps warnings quiet
    # (tfxkit's quiet_logs sets the root logger to ERROR) it must still reach the capture,
    # and only the capture
    level, propagate = log.level, log.propagate
    if log.getEffectiveLevel() > logging.WARNING:
        log.setLevel(logging.WARNING)
        log.propagate = False
    outcomes: Dict[int, Result] = {}
    threads = []
    try:
        for i, target in enumerate(targets):
            def work(i=i, target=target):
                outcomes[i] = _send_one(alert, target, timeout_s, env, capture)
            t = threading.Thread(target=work, name=f"tfxkit-alert-{i}", daemon=True)
            t.start()
            threads.append(t)
        deadline = time.monotonic() + timeout_s + 1.0
        for t in threads:
            t.join(max(0.0, deadline - time.monotonic()))
    finally:
        log.removeHandler(capture)
        log.removeFilter(redact)
        log.setLevel(level)
        log.propagate = propagate
    results = []
    for i, target in enumerate(targets):
        r = outcomes.get(i) or (target.label(), False, f"no answer within {timeout_s:g} s")
        if not r[1]:
            _say(stderr, f"alert {alert.kind} to {r[0]} failed: {r[2]}")
        results.append(r)
    return results


def _send_one(alert: Alert, target, timeout_s: float, env: Mapping[str, str],
              capture: "_Capture") -> Result:
    label = target.label()
    secrets = secrets_of(target, env)
    try:
        notifier, _ = notifier_for(alert, target, timeout_s, env)
        ok = notifier.notify(body=alert.body(), title=alert.full_title(),
                             notify_type=alert.severity)
        if ok:
            return label, True, None
        why = capture.text(threading.get_ident()) or "apprise could not deliver it"
        return label, False, _redact(why, secrets)
    except Exception as e:  # pylint: disable=broad-except
        return label, False, _redact(f"{type(e).__name__}: {e}", secrets)


def notifier_for(alert: Alert, target, timeout_s: float, env: Mapping[str, str]):
    """The apprise plugin object that sends ``alert`` to ``target``, and the strings that
    must never be printed (its URL's secrets). A missing environment variable or a URL
    apprise does not know is a ValueError naming the variable, not its value."""
    import apprise

    timeouts = {"cto": timeout_s, "rto": timeout_s}
    if target.webhook is not None:
        from apprise.plugins.custom_json import NotifyJSON

        url = webhook_url(target.webhook)
        results = NotifyJSON.parse_url(url)
        if not results:
            raise ValueError("apprise cannot parse the webhook URL")
        results["payload"] = {**results.get("payload", {}), **alert.fields()}
        results.update(timeouts)
        secrets = _url_secrets(target.webhook)
        return _instantiate(apprise, results, target), secrets
    name = target.slack.webhook_url_env if target.slack is not None else target.apprise
    value = env.get(name)
    if not value:
        raise ValueError(f"the environment variable {name} is not set")
    secrets = [value] + _url_secrets(value)
    results = apprise.Apprise.instantiate(value, suppress_exceptions=True)
    if results is None:
        raise ValueError(f"${name} holds no URL apprise knows")
    if target.slack is not None and type(results).__name__ != "NotifySlack":
        raise ValueError(f"${name} is not a Slack incoming-webhook URL "
                         "(https://hooks.slack.com/services/...)")
    results.socket_connect_timeout = results.socket_read_timeout = float(timeout_s)
    return results, secrets


def _instantiate(apprise, results, target):
    obj = apprise.Apprise.instantiate(results, suppress_exceptions=True)
    if obj is None:
        raise ValueError(f"apprise refused {target.label()}")
    return obj


def webhook_url(url: str) -> str:
    """An http(s) URL as apprise's ``json://`` / ``jsons://`` URL: its query parameters
    become apprise's ``-name=value`` (sent on the URL as they were)."""
    u = urlsplit(url)
    schema = "jsons" if u.scheme == "https" else "json"
    query = "&".join(f"-{quote(k, safe='')}={quote(v, safe='')}"
                     for k, v in parse_qsl(u.query, keep_blank_values=True))
    return f"{schema}://{u.netloc}{u.path or '/'}" + (f"?{query}" if query else "")


def secrets_of(target, env: Mapping[str, str]) -> List[str]:
    """What of ``target``'s URL must never be printed."""
    if target.webhook is not None:
        return _url_secrets(target.webhook)
    name = target.slack.webhook_url_env if target.slack is not None else target.apprise
    value = env.get(name) or ""
    return ([value] if value else []) + _url_secrets(value)


def _url_secrets(url: str) -> List[str]:
    """The parts of a URL that may be secrets: its path segments, query values, user and
    password (longer than 3 characters: short ones are words, not tokens)."""
    try:
        u = urlsplit(url)
    except ValueError:
        return []
    parts = [p for p in u.path.split("/") if p] + [v for _, v in parse_qsl(u.query)]
    parts += [u.username or "", u.password or ""]
    return [p for p in parts if len(p) > 3]


def _redact(text: str, secrets: List[str]) -> str:
    for s in sorted(set(secrets), key=len, reverse=True):
        text = text.replace(s, "***")
    return text


def _say(stderr, line: str):
    try:
        print(f"tfxkit: {line}", file=stderr, flush=True)
    except Exception:  # pylint: disable=broad-except  (a closed stderr loses the line)
        pass


class _Redact(logging.Filter):
    """Masks secrets in the records of apprise's logger while alerts are sent."""

    def __init__(self, secrets: List[str]):
        super().__init__()
        self.secrets = secrets

    def filter(self, record):
        try:
            text = record.getMessage()
            masked = _redact(text, self.secrets)
            if masked != text:
                record.msg, record.args = masked, ()
        except Exception:  # pylint: disable=broad-except
            pass
        return True


class _Capture(logging.Handler):
    """apprise's warnings and errors, by the thread that logged them (why a send failed)."""

    def __init__(self):
        super().__init__(logging.WARNING)
        self.lines: Dict[int, List[str]] = {}

    def emit(self, record):
        try:
            self.lines.setdefault(record.thread, []).append(record.getMessage())
        except Exception:  # pylint: disable=broad-except
            pass

    def text(self, thread: int) -> str:
        return " ".join(self.lines.get(thread, []))


def decision_alerter(alerts_cfg, use_case: str,
                     fire_fn: Optional[Callable[..., List[Result]]] = None
                     ) -> Callable[[Dict[str, Any]], Optional[threading.Thread]]:
    """The canary controller's ``on_decision``: a rollback decision fires
    ``canary_rollback`` in a thread of its own (the server's event loop never waits on a
    receiver) and returns that thread; any other decision returns None."""
    fire_fn = fire_fn or fire

    def on_decision(record: Dict[str, Any]) -> Optional[threading.Thread]:
        if record.get("action") != "rollback":
            return None
        canary, stable = record.get("canary"), record.get("stable")
        reasons = record.get("reasons") or []
        details = {"stable": stable, "canary": canary, "step": record.get("step"),
                   "share": record.get("share"), "reasons": reasons,
                   "evidence": record.get("evidence")}
        t = threading.Thread(
            target=fire_fn, name="tfxkit-alert-canary", daemon=True,
            args=(alerts_cfg, "canary_rollback",
                  f"canary {canary} rolled back to {stable}",
                  f"The canary of version {canary} was rolled back; version {stable} "
                  f"serves again. " + "; ".join(map(str, reasons))),
            kwargs={"details": details, "use_case": use_case, "model_version": canary})
        t.start()
        return t

    return on_decision
