"""Request and answer bodies: JSON read (whole, or one instance at a time for a big
``/predict`` body) and written."""
from __future__ import annotations

import json
import re
from typing import Any, Optional

from tfxkit.infra.serving.errors import InstanceError, TooLarge


# -- request bodies -----------------------------------------------------------------------

_WS = re.compile(r"[ \t\n\r]*")
SHAPE = 'expected {"instances": [{feature: value, ...}, ...]}'


def _no_constant(name):
    raise ValueError(f"{name} is not JSON")


_DECODER = json.JSONDecoder(parse_constant=_no_constant)


def loads(raw) -> Any:
    """A JSON body (bytes or bytearray); InstanceError when it is not JSON."""
    try:
        import orjson

        return orjson.loads(raw)
    except ImportError:  # pragma: no cover
        try:
            return _DECODER.decode(bytes(raw).decode("utf-8"))
        except (UnicodeDecodeError, ValueError) as e:
            raise InstanceError(f"the body is not JSON: {e}") from None
    except ValueError as e:
        raise InstanceError(f"the body is not JSON: {e}") from None


def iter_instances(raw, max_instances: Optional[int] = None):
    """The elements of a JSON body's ``"instances"`` list, one at a time, without building
    the whole document: each element is decoded by one short call of the C scanner, so a
    thread running this gives the GIL back between elements (``orjson.loads`` of a 50 MB
    body holds it for a quarter of a second, and its objects take several times the
    body's size). Raises InstanceError (not JSON, or not ``{"instances": [...]}``) or
    TooLarge (more than ``max_instances``), before decoding the rest."""
    try:
        text = raw.decode("utf-8") if not isinstance(raw, str) else raw
    except UnicodeDecodeError as e:
        raise InstanceError(f"the body is not JSON: {e}") from None
    scan, ws = _DECODER.raw_decode, _WS.match

    def bad(msg, at):
        return InstanceError(f"the body is not JSON: {msg} at character {at}")

    i = ws(text, 0).end()
    if text[i:i + 1] != "{":
        if text[i:i + 1] in ("[", '"') or text[i:i + 1].isdigit():
            raise InstanceError(SHAPE)
        raise bad("expected an object", i)
    i = ws(text, i + 1).end()
    seen = False
    if text[i:i + 1] == "}":
        raise InstanceError(SHAPE)
    while True:
        try:
            key, i = scan(text, i)
        except ValueError as e:
            raise InstanceError(f"the body is not JSON: {e}") from None
        if not isinstance(key, str):
            raise bad("expected a key", i)
        i = ws(text, i).end()
        if text[i:i + 1] != ":":
            raise bad("expected ':'", i)
        i = ws(text, i + 1).end()
        if key == "instances" and not seen:
            seen = True
            if text[i:i + 1] != "[":
                raise InstanceError(SHAPE)
            i = ws(text, i + 1).end()
            n = 0
            if text[i:i + 1] == "]":
                i += 1
            else:
                while True:
                    try:
                        value, i = scan(text, i)
                    except ValueError as e:
                        raise InstanceError(f"the body is not JSON: {e}") from None
                    n += 1
                    if max_instances is not None and n > max_instances:
                        raise TooLarge(f"more than {max_instances} instances in one request "
                                       "(serving.max_instances): send them in parts")
                    yield value
                    i = ws(text, i).end()
                    c = text[i:i + 1]
                    if c == ",":
                        i = ws(text, i + 1).end()
                    elif c == "]":
                        i += 1
                        break
                    else:
                        raise bad("expected ',' or ']'", i)
        else:
            try:
                _, i = scan(text, i)
            except ValueError as e:
                raise InstanceError(f"the body is not JSON: {e}") from None
        i = ws(text, i).end()
        c = text[i:i + 1]
        if c == ",":
            i = ws(text, i + 1).end()
        elif c == "}":
            break
        else:
            raise bad("expected ',' or '}'", i)
    if ws(text, i + 1).end() != len(text):
        raise bad("extra data", i + 1)
    if not seen:
        raise InstanceError(SHAPE)


def dumps(value) -> bytes:
    try:
        import orjson

        return orjson.dumps(value)
    except ImportError:  # pragma: no cover
        return json.dumps(value, separators=(",", ":")).encode()
