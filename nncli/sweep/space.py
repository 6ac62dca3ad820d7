"""Search spaces: what each swept key may take, parsed from Hydra's multirun syntax.

    optimizer.lr=0.1,0.01,0.001         a list of values (Hydra's multirun syntax): a grid axis
    --grid 'model.hidden=[[64],[128]]'  the same, as one YAML list
    optimizer.lr=loguniform(1e-4,1e-1)  a range for random search, TPE and halving
    training.batch_size=int(16,128)     an integer range, both ends included
    optimizer.lr=uniform(0.001,0.1)     a uniform range
    model.activation=choice(relu,tanh)  a list of values, written as a function
    training.epochs=range(10,40,10)     Hydra's range: 10, 20, 30

Each value inside is YAML (``[64, 32]``, ``1e-3``, ``null``); commas inside brackets, braces
and quotes do not split. A ``key=value`` without a top-level comma or a function is a fixed
override applied to every trial. The same expressions are the values of ``sweep.params`` in a
config or sweep file, where a YAML list also means a list of values.
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass
from typing import Any

from nncli.config.safeyaml import load_yaml
from nncli.errors import ConfigError

_FUNCTION = re.compile(r"^\s*(choice|uniform|loguniform|int|range)\s*\((.*)\)\s*$", re.S)


@dataclass(frozen=True)
class Values:
    """A list of values: a grid axis; random search picks one uniformly."""

    values: tuple

    def grid(self) -> list:
        return list(self.values)

    def sample(self, rng) -> Any:
        return self.values[int(rng.integers(len(self.values)))]

    def corners(self) -> list:
        return list(self.values)

    def text(self) -> str:
        return "choice(" + ", ".join(_yaml_text(v) for v in self.values) + ")"


@dataclass(frozen=True)
class Uniform:
    low: float
    high: float
    log: bool = False

    def grid(self) -> list:
        raise ValueError("a continuous range")

    def sample(self, rng) -> float:
        if self.log:
            return float(math.exp(rng.uniform(math.log(self.low), math.log(self.high))))
        return float(rng.uniform(self.low, self.high))

    def corners(self) -> list:
        return [self.low, self.high]

    def text(self) -> str:
        return f"{'loguniform' if self.log else 'uniform'}({self.low!r}, {self.high!r})"


@dataclass(frozen=True)
class IntRange:
    """Integers low..high, both included (Optuna's suggest_int)."""

    low: int
    high: int

    def grid(self) -> list:
        raise ValueError("an integer range (write the values, e.g. 16,32,64, to grid them)")

    def sample(self, rng) -> int:
        return int(rng.integers(self.low, self.high + 1))

    def corners(self) -> list:
        return [self.low, self.high]

    def text(self) -> str:
        return f"int({self.low}, {self.high})"


Dimension = Values | Uniform | IntRange


def split_top_level(text: str) -> list[str]:
    """Split at commas outside brackets, braces, parentheses and quotes."""
    parts, depth, quote, start = [], 0, None, 0
    for i, ch in enumerate(text):
        if quote:
            if ch == quote:
                quote = None
        elif ch in "'\"":
            quote = ch
        elif ch in "[{(":
            depth += 1
        elif ch in "]})":
            depth -= 1
        elif ch == "," and depth == 0:
            parts.append(text[start:i])
            start = i + 1
    parts.append(text[start:])
    return parts


def _value(text: str, where: str) -> Any:
    value, _ = load_yaml(text.strip(), where, empty=None)
    return value


def _number(value: Any, where: str, what: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise ConfigError(f"{where}: expected {what}, got {json.dumps(value)}")
    return value


def parse(text: str, where: str) -> Dimension | None:
    """The dimension a ``key=...`` value describes, or None when it is one fixed value."""
    m = _FUNCTION.match(text)
    if m:
        name, inner = m.group(1), m.group(2)
        args = [_value(a, where) for a in split_top_level(inner)] if inner.strip() else []
        return _function(name, args, where)
    parts = split_top_level(text)
    if len(parts) == 1:
        return None
    if any(not p.strip() for p in parts):
        raise ConfigError(f"{where}: an empty value between commas; write the values as a,b,c")
    return Values(tuple(_value(p, where) for p in parts))


def from_yaml(value: Any, where: str) -> Dimension | None:
    """A dimension from a ``sweep.params`` entry: a list of values, an expression, or a fixed value."""
    if isinstance(value, list):
        if not value:
            raise ConfigError(f"{where}: expected at least one value, got []")
        return Values(tuple(value))
    if isinstance(value, str):
        return parse(value, where)
    return None


def _function(name: str, args: list, where: str) -> Dimension:
    if name == "choice":
        if not args:
            raise ConfigError(f"{where}: choice() needs at least one value")
        return Values(tuple(args))
    if name == "range":
        if not 1 <= len(args) <= 3 or not all(isinstance(a, int) and not isinstance(a, bool) for a in args):
            raise ConfigError(f"{where}: expected range(start, stop[, step]) of integers, got "
                              f"range({', '.join(map(json.dumps, args))})")
        values = tuple(range(*args))
        if not values:
            raise ConfigError(f"{where}: range({', '.join(map(str, args))}) is empty")
        return Values(values)
    if len(args) != 2:
        raise ConfigError(f"{where}: expected {name}(low, high), got {len(args)} argument(s)")
    if name == "int":
        low, high = args
        if not all(isinstance(a, int) and not isinstance(a, bool) for a in args) or low > high:
            raise ConfigError(f"{where}: expected int(low, high) with integers low <= high, got "
                              f"int({json.dumps(low)}, {json.dumps(high)})")
        return IntRange(low, high)
    low = _number(args[0], where, f"{name}(low, high) with numbers")
    high = _number(args[1], where, f"{name}(low, high) with numbers")
    if not low < high:
        raise ConfigError(f"{where}: expected {name}(low, high) with low < high, got {name}({low}, {high})")
    if name == "loguniform" and low <= 0:
        raise ConfigError(f"{where}: expected loguniform(low, high) with 0 < low, got loguniform({low}, {high})")
    return Uniform(float(low), float(high), log=name == "loguniform")


def _yaml_text(value: Any) -> str:
    """A value as the flow YAML a user would type (JSON is YAML; strings stay bare when safe)."""
    if isinstance(value, str) and re.fullmatch(r"[A-Za-z_][A-Za-z0-9_.-]*", value) and \
            value not in ("null", "true", "false", "yes", "no", "on", "off"):
        return value
    if isinstance(value, float):
        return repr(value)
    return json.dumps(value, separators=(",", ":"))


def override(key: str, value: Any) -> str:
    """``key=value`` that load_config reads back as exactly this value."""
    return f"{key}={json.dumps(value)}"


# ---------------------------------------------------------------- names of trials
def short_keys(keys: list[str]) -> dict[str, str]:
    """The shortest dotted tail of each key that no other key shares: optimizer.lr -> lr."""
    out = {}
    for key in keys:
        parts = key.split(".")
        for n in range(1, len(parts) + 1):
            tail = ".".join(parts[-n:])
            if not any(k != key and (k == tail or k.endswith("." + tail)) for k in keys):
                break
        out[key] = tail
    return out


def show(value: Any) -> str:
    """A value as a trial label shows it: floats to 4 significant digits, lists compact."""
    if isinstance(value, float):
        return f"{value:.4g}"
    if isinstance(value, (list, dict)):
        return json.dumps(value, separators=(",", ":"))
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def label(params: dict, short: dict[str, str]) -> str:
    """``lr=0.01,hidden=[64]``: what varied, for people."""
    return ",".join(f"{short[k]}={show(v)}" for k, v in params.items())


def slug(params: dict, short: dict[str, str], limit: int = 40) -> str:
    """``lr0.01_hidden64``: what varied, safe in a directory name (letters, digits, . _ -)."""
    parts = []
    for k, v in params.items():
        text = re.sub(r"[^A-Za-z0-9.-]+", "-", show(v).replace(",", "-")).strip("-.")
        key = re.sub(r"[^A-Za-z0-9]+", "", short[k].rsplit(".", 1)[-1])
        parts.append(f"{key}{text}")
    out = re.sub(r"\.{2,}", ".", "_".join(parts))[:limit].rstrip("._-")
    return out
