"""``RedisStore``: one string per key, written in pipelined batches; a run in progress is
recorded as pending, with a lease its writer renews, so that the keys of a writer that died
are removed by the next write or trim."""
from __future__ import annotations

import json
import logging
import os
import re
import uuid
from typing import Dict, Optional

from tfxkit.components.prediction_store.store import (PredictionStore, RunInfo, StoreError,
                                                      StoreUnavailable, error_text, now,
                                                      redact)

_log = logging.getLogger(__name__)


class RedisStore(PredictionStore):
    """Keys: ``tfxkit:{use_case}:current`` (the run id), ``tfxkit:{use_case}:runs`` (a hash
    run_id -> run info JSON) and ``tfxkit:{use_case}:{run_id}:{key}`` (the row JSON).

    A write in progress: ``tfxkit:{use_case}:pending`` (a set of run ids, written before the
    run's first key), ``tfxkit:{use_case}:lease:{run_id}`` (renewed with every batch, expires
    ``lease_s`` after its writer stops) and, once a cleaner has claimed a dead writer's run,
    ``tfxkit:{use_case}:dead:{run_id}`` (that writer can then never make it current)."""

    def __init__(self, url: str, password: Optional[str] = None, timeout_s: float = 5.0,
                 lease_s: float = 120.0):
        import redis

        self.url = url
        self.lease_s = lease_s
        self.description = f"redis {redact(url)}"
        self.r = redis.Redis.from_url(url, password=password, socket_timeout=timeout_s,
                                      socket_connect_timeout=timeout_s)
        self._get = self.r.register_script(_GET_CURRENT)

    def _k(self, use_case: str, *parts: str) -> str:
        return ":".join(("tfxkit", use_case) + parts)

    def _call(self, fn, *args):
        import redis

        try:
            return fn(*args)
        except redis.exceptions.RedisError as e:
            raise StoreUnavailable(f"{self.description}: {error_text(e)}") from None

    def _error(self, e: BaseException, what: str) -> StoreError:
        import redis

        if isinstance(e, StoreError):
            return e
        cls = StoreUnavailable if isinstance(e, (redis.exceptions.ConnectionError,
                                                 redis.exceptions.TimeoutError,
                                                 OSError)) else StoreError
        return cls(f"{self.description}: {what}{error_text(e)}")

    def ping(self):
        self._call(self.r.ping)

    def _lease_value(self, run_id: str, token: str) -> str:
        return json.dumps({"run_id": run_id, "writer": token, "pid": os.getpid(),
                           "host": os.uname().nodename, "renewed_at": now()})

    def write_run(self, use_case, run_id, model_version, rows, keep_runs=2, batch=5000,
                  progress=None) -> RunInfo:
        import redis

        created = now()
        n = 0
        prefix = self._k(use_case, run_id) + ":"
        pending, lease = self._k(use_case, "pending"), self._k(use_case, "lease", run_id)
        dead = self._k(use_case, "dead", run_id)
        token = uuid.uuid4().hex
        lease_ms = max(1, int(self.lease_s * 1000))
        recorded = False
        try:
            self._clean_pending(use_case, skip=run_id)
            # recorded before the first key: a writer that dies leaves a pending run that
            # the next write or trim removes once its lease has expired
            pipe = self.r.pipeline(transaction=False)
            pipe.delete(dead)
            pipe.sadd(pending, run_id)
            pipe.set(lease, self._lease_value(run_id, token), px=lease_ms)
            pipe.execute()
            recorded = True
            if self._current(use_case) != run_id:  # a retried run starts over
                self._delete_run_keys(use_case, run_id)
            for key, pred in rows:
                pipe.set(prefix + key, json.dumps(
                    {"key": key, "prediction": pred, "model_version": model_version,
                     "run_id": run_id, "created_at": created}))
                n += 1
                if n % batch == 0:
                    pipe.sadd(pending, run_id)
                    pipe.set(lease, self._lease_value(run_id, token), px=lease_ms)
                    pipe.execute()
                    if progress:
                        progress(n)
            pipe.execute()
            info = RunInfo(use_case, run_id, model_version, n, created)
            # the switch: recording the run and pointing at it is one MULTI/EXEC, and only
            # while this writer's lease holds and no cleaner has claimed the run
            with self.r.pipeline(transaction=True) as tx:
                tx.watch(lease, dead)
                held = tx.get(lease)
                if held is None or json.loads(held).get("writer") != token \
                        or tx.exists(dead):
                    raise StoreError(
                        f"this writer's lease expired (it stalled over {self.lease_s:g} s) "
                        "and the run was given up; nothing was switched")
                tx.multi()
                tx.hset(self._k(use_case, "runs"), run_id, json.dumps(info.__dict__))
                tx.set(self._k(use_case, "current"), run_id)
                tx.srem(pending, run_id)
                tx.delete(lease)
                tx.execute()
        except BaseException as e:  # also KeyboardInterrupt: never leave keys behind
            if recorded:
                self._give_up(use_case, run_id, lease, token)
            if not isinstance(e, Exception):
                raise
            if isinstance(e, redis.exceptions.WatchError):
                e = StoreError("the run was given up by a cleaner while it was switched")
            raise self._error(e, f"writing run {run_id} failed: ") from None
        self._trim(use_case, keep_runs)
        info.current = True
        return info

    def _give_up(self, use_case, run_id, lease, token) -> None:
        """After a failed write: removes this run's keys (unless it became current); if
        the server is gone, the pending record stays for the next write or trim."""
        try:
            if self._current(use_case) == run_id:
                return
            self._delete_run_keys(use_case, run_id)
            held = self.r.get(lease)
            if held is not None and json.loads(held).get("writer") == token:
                self.r.delete(lease)
            self.r.srem(self._k(use_case, "pending"), run_id)
        except Exception as e:  # pylint: disable=broad-except
            _log.warning("%s: could not remove the keys of failed run %s of %s now (the "
                         "next write or trim will): %s", self.description, run_id, use_case,
                         error_text(e))

    def _clean_pending(self, use_case: str, skip: Optional[str] = None) -> Dict[str, int]:
        """Removes the keys of pending runs whose writer is gone (lease expired) and that
        never became current; returns {run id: keys removed}."""
        import redis

        pending = self._k(use_case, "pending")
        cleaned: Dict[str, int] = {}
        for raw in self.r.smembers(pending):
            run_id = raw.decode()
            if run_id == skip:
                continue
            lease, dead = self._k(use_case, "lease", run_id), self._k(use_case, "dead", run_id)
            current, runs = self._k(use_case, "current"), self._k(use_case, "runs")
            # claim it atomically: its writer cannot switch to it once ``dead`` is set
            with self.r.pipeline(transaction=True) as tx:
                try:
                    tx.watch(lease, current, runs)
                    if tx.exists(lease):
                        continue  # its writer is alive (or died less than lease_s ago)
                    cur = tx.get(current)
                    if (cur is not None and cur.decode() == run_id) or tx.hexists(runs, run_id):
                        tx.multi()
                        tx.srem(pending, run_id)
                        tx.execute()
                        continue  # it finished
                    tx.multi()
                    tx.set(dead, now(), ex=86400)
                    tx.execute()
                except redis.exceptions.WatchError:
                    continue  # something moved: leave it to the next clean-up
            cleaned[run_id] = self._delete_run_keys(use_case, run_id)
            self.r.srem(pending, run_id)
            _log.warning("%s: removed the %d keys of run %s of %s, whose write never "
                         "finished", self.description, cleaned[run_id], run_id, use_case)
        return cleaned

    def _current(self, use_case):
        v = self.r.get(self._k(use_case, "current"))
        return v.decode() if v is not None else None

    def _delete_run_keys(self, use_case, run_id) -> int:
        keys, n = [], 0
        pattern = _glob_escape(self._k(use_case, run_id) + ":") + "*"
        for k in self.r.scan_iter(match=pattern, count=5000):
            keys.append(k)
            if len(keys) >= 5000:
                n += self.r.unlink(*keys)
                keys = []
        if keys:
            n += self.r.unlink(*keys)
        return n

    def _trim(self, use_case, keep_runs):
        """Drops runs beyond ``keep_runs`` and dead writers' pending runs; after a
        successful switch, so a failure here is logged, never the write's failure."""
        try:
            self._clean_pending(use_case)
            runs = self.runs(use_case)
            old = [r for r in runs if not r.current][max(0, keep_runs - 1):]
            for r in old:
                self._delete_run_keys(use_case, r.run_id)
                self.r.hdel(self._k(use_case, "runs"), r.run_id)
        except Exception as e:  # pylint: disable=broad-except
            _log.warning("%s: trimming old runs of %s failed (the new run serves): %s",
                         self.description, use_case, error_text(e))

    def sweep(self, use_case):
        try:
            removed = sum(self._clean_pending(use_case).values())
            known = {v.decode() for v in self.r.hkeys(self._k(use_case, "runs"))}
            known |= {v.decode() for v in self.r.smembers(self._k(use_case, "pending"))}
            current = self._current(use_case)
            if current:
                known.add(current)
            base = self._k(use_case) + ":"
            own = tuple(base + r + ":" for r in known)
            special = {base + "current", base + "runs", base + "pending"}
            candidates = []
            for raw in self.r.scan_iter(match=_glob_escape(base) + "*", count=5000):
                k = raw.decode("utf-8", "replace")
                if k in special or k.startswith(own) or k.startswith(
                        (base + "lease:", base + "dead:")):
                    continue
                candidates.append(raw)
            # a key is a lost row of this use case only if it reads back as one: a row
            # whose run is unknown, stored under exactly tfxkit:{use_case}:{run}:{key}
            # (so keys of another use case named "{use_case}:..." are never touched)
            orphans = []
            for i in range(0, len(candidates), 1000):
                chunk = candidates[i:i + 1000]
                for raw, v in zip(chunk, self.r.mget(chunk)):
                    try:
                        row = json.loads(v)
                        ok = (isinstance(row, dict) and row.get("run_id") not in known
                              and raw.decode() == base + f"{row['run_id']}:{row['key']}")
                    except Exception:  # pylint: disable=broad-except - not a row
                        ok = False
                    if ok:
                        orphans.append(raw)
            for i in range(0, len(orphans), 5000):
                self.r.unlink(*orphans[i:i + 5000])
            return removed + len(orphans)
        except Exception as e:
            raise self._error(e, "sweeping failed: ") from None

    def runs(self, use_case):
        raw = self._call(self.r.hgetall, self._k(use_case, "runs"))
        current = self._call(self._current, use_case)
        out = []
        for v in raw.values():
            d = json.loads(v)
            d["current"] = d["run_id"] == current
            out.append(RunInfo(**d))
        return sorted(out, key=lambda r: r.created_at, reverse=True)

    def _point(self, use_case, run_id):
        self._call(self.r.set, self._k(use_case, "current"), run_id)

    def get(self, use_case, key):
        """One round trip (a Lua script: the current run's pointer, then its key), atomic:
        a switch of runs, and the old run's deletion, cannot fall between the two reads."""
        v = self._call(self._get, [self._k(use_case, "current")],
                       [self._k(use_case) + ":", str(key)])
        return json.loads(v) if v is not None else None

    def close(self):
        self.r.close()


# GET /predictions/KEY's read: KEYS[1] the use case's current-run pointer, ARGV the use
# case's key prefix and the key; nil when there is no current run or no such key.
_GET_CURRENT = """
local run = redis.call('GET', KEYS[1])
if not run then return false end
return redis.call('GET', ARGV[1] .. run .. ':' .. ARGV[2])
"""


def _glob_escape(s: str) -> str:
    """``s`` as a literal in a Redis MATCH pattern."""
    return re.sub(r"([\\*?\[\]^-])", r"\\\1", s)
