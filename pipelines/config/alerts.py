"""``alerts:``: where ``tfxkit`` sends an alert when something needs a person (issue 19).

```yaml
alerts:
  timeout_s: 10                    # per target; an alert never holds a run or the server longer
  targets:
    - webhook: https://ops.example.com/tfxkit     # a JSON POST (apprise's json:// body)
    - slack: {webhook_url_env: SLACK_WEBHOOK_URL} # a Slack incoming webhook, its URL in env
      on: [failed_run, canary_rollback]           # default: every kind
    - apprise: OPS_APPRISE_URL                    # any apprise URL, from this env variable
```

A Slack webhook URL or an apprise URL holds a secret (its tokens), so the YAML names the
environment variable that holds it, never the URL; a literal Slack webhook URL is refused.
"""
from __future__ import annotations

import re
from typing import List, Literal, Optional, get_args
from urllib.parse import urlsplit

from pydantic import field_validator, model_validator

from .base import _Strict

AlertKind = Literal["failed_run", "not_blessed", "canary_rollback", "skew", "drift"]
KINDS = get_args(AlertKind)

_ENV = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_SLACK_HOSTS = ("hooks.slack.com", "hooks.slack-gov.com")


def _env_name(value: str, field: str) -> str:
    if not _ENV.match(value or ""):
        if "://" in (value or ""):  # never echoed: a URL holds secrets
            raise ValueError(f"{field}: this looks like a URL: a URL holds secrets and must "
                             "not be in the YAML; put it in an environment variable and name "
                             "the variable here")
        raise ValueError(f"{field}: {value!r} is not the name of an environment variable")
    return value


class SlackTarget(_Strict):
    """A Slack incoming webhook: ``webhook_url_env`` names the environment variable that
    holds its URL (https://hooks.slack.com/services/T.../B.../...)."""

    webhook_url_env: str

    @model_validator(mode="before")
    @classmethod
    def _no_literal_url(cls, v):
        if isinstance(v, str) or (isinstance(v, dict) and ("webhook_url" in v or "url" in v)):
            raise ValueError(
                "a Slack webhook URL holds a secret and must not be in the YAML: put it in "
                "an environment variable and write slack: {webhook_url_env: NAME}")
        return v

    @field_validator("webhook_url_env")
    @classmethod
    def _env(cls, v):
        return _env_name(v, "webhook_url_env")


class AlertTarget(_Strict):
    """One place alerts go: exactly one of ``webhook`` (a URL, JSON POST), ``slack`` or
    ``apprise`` (the name of an environment variable holding an apprise URL); ``on``: the
    kinds it receives."""

    webhook: Optional[str] = None
    slack: Optional[SlackTarget] = None
    apprise: Optional[str] = None
    on: List[AlertKind] = list(KINDS)

    @model_validator(mode="before")
    @classmethod
    def _yaml_on(cls, v):
        # YAML 1.1 (PyYAML) reads an unquoted `on:` key as the boolean True
        if isinstance(v, dict) and True in v and "on" not in v:
            v = {("on" if k is True else k): x for k, x in v.items()}
        return v

    @field_validator("webhook")
    @classmethod
    def _webhook(cls, v):
        if v is None:
            return v
        if not re.match(r"^https?://[^/\s?#]+", v):
            raise ValueError("not an http:// or https:// URL")
        host = re.match(r"^https?://([^/\s?#:]+)", v).group(1).lower()
        if host in _SLACK_HOSTS:
            raise ValueError("a Slack webhook URL holds a secret and must not be in the YAML: "
                             "put it in an environment variable and write "
                             "slack: {webhook_url_env: NAME}")
        return v

    @field_validator("apprise")
    @classmethod
    def _apprise(cls, v):
        return v if v is None else _env_name(v, "apprise")

    @field_validator("on")
    @classmethod
    def _on(cls, v):
        if not v:
            raise ValueError(f"name at least one kind of {list(KINDS)} (or leave `on` out: "
                             "every kind)")
        return list(dict.fromkeys(v))

    @model_validator(mode="after")
    def _exactly_one(self):
        given = [k for k in ("webhook", "slack", "apprise") if getattr(self, k) is not None]
        if len(given) != 1:
            raise ValueError("each alert target is exactly one of webhook: URL, "
                             "slack: {webhook_url_env: NAME} or apprise: ENV_NAME"
                             + (f" (got {', '.join(given)})" if given else ""))
        return self

    def label(self) -> str:
        """The target as printed: never a secret (a webhook's scheme and host only, the
        name of the environment variable otherwise)."""
        if self.webhook is not None:
            u = urlsplit(self.webhook)
            return f"webhook {u.scheme}://{u.hostname}" + (f":{u.port}" if u.port else "")
        if self.slack is not None:
            return f"slack ${self.slack.webhook_url_env}"
        return f"apprise ${self.apprise}"


class Alerts(_Strict):
    """``alerts:``: the targets, and the most seconds one target may take."""

    targets: List[AlertTarget]
    timeout_s: float = 10.0

    @field_validator("timeout_s")
    @classmethod
    def _timeout(cls, v):
        if not 0 < v <= 120:
            raise ValueError(f"{v} must be above 0 and at most 120 seconds")
        return v

    @field_validator("targets")
    @classmethod
    def _some(cls, v):
        if not v:
            raise ValueError("name at least one target (or leave alerts: out)")
        return v

    def targets_for(self, kind: str) -> List[AlertTarget]:
        if kind not in KINDS:
            raise ValueError(f"unknown alert kind {kind!r}; the kinds: {', '.join(KINDS)}")
        return [t for t in self.targets if kind in t.on]
