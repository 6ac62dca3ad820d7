"""The building blocks of the schema: field types with one-line "expected ..., got ..."
errors, sections chosen by name, shorthands, and the rule that no key is a silent no-op."""

from __future__ import annotations

import difflib
import json
import re
from dataclasses import dataclass, field
from typing import Annotated, Any, Callable, Literal, Union

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Discriminator,
    Field,
    StrictBool,
    StrictFloat,
    StrictInt,
    StrictStr,
    Tag,
    TypeAdapter,
    ValidationError,
)
from pydantic.json_schema import SkipJsonSchema
from pydantic_core import InitErrorDetails, PydanticCustomError, core_schema

from nncli.paths import path_problem, shown


def _fail(message: str) -> PydanticCustomError:
    """A complete one-line problem ("expected ..., got ..."), shown as is."""
    return PydanticCustomError("config", "{message}", {"message": message})


def _show(value: Any) -> str:
    """A short rendering of a YAML value for messages."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (str, int, float)):
        return repr(value)
    text = json.dumps(value, default=str)
    return text if len(text) <= 60 else text[:57] + "..."


def _choice(names: tuple[str, ...], aliases: dict[str, str] | None = None) -> Any:
    """A Literal of ``names`` whose error lists the sorted choices and a close match; another
    tool's name for a choice (``aliases``: logistic -> sigmoid) is read as that choice."""
    aliases = aliases or {}

    def check(value: Any) -> Any:
        if isinstance(value, str) and value in aliases:
            value = aliases[value]
        if isinstance(value, str) and value in names:
            return value
        hint = ""
        if isinstance(value, str):
            close = difflib.get_close_matches(value, [*names, *aliases], n=1)
            close = [aliases.get(c, c) for c in close]
            hint = f" (did you mean {close[0]!r}?)" if close else ""
        raise _fail(f"expected one of {', '.join(sorted(names))}{hint}, got {_show(value)}")
    return Annotated[Literal[names], BeforeValidator(check)]


def _tagged(*branches: tuple[str, Any], pick: Any) -> Any:
    """A union validated by one branch only, chosen by ``pick(value)``, so errors stay specific."""
    members = tuple(Annotated[t, Tag(tag)] for tag, t in branches)
    return Annotated[Union[members], Discriminator(pick)]


# Union branch tags; they appear in pydantic's error locations and are removed from key paths.
_UNION_TAGS = {"_one", "_list", "_int", "_full", "_auto", "_balanced", "_mapping"}


def _one_or_list(value: Any) -> str:
    return "_list" if isinstance(value, list) else "_one"


def _check_path(value: str) -> str:
    problem = path_problem(value)
    if problem is not None:
        raise _fail(f"expected a path to a file, got '{shown(value)}': the path {problem}")
    return value


def _check_name(value: str) -> str:
    if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}", value) or ".." in value:
        raise _fail("expected 1..64 letters, digits, '.', '_' or '-' starting with a letter or "
                    f"digit and without '..', got {_show(value)}")
    return value


def _check_scalar(value: Any) -> Any:
    if not isinstance(value, (str, int, float, bool)):
        raise _fail(f"expected a number, string or boolean, got {_show(value)}")
    return value


def _check_full(value: Any) -> Any:
    if value != "full":
        raise _fail(f"expected an integer >= 1 or 'full', got {_show(value)}")
    return value


def _check_pair(value: Any) -> Any:
    if not isinstance(value, (list, tuple)) or len(value) != 2:
        raise _fail(f"expected a list of 2 numbers [beta1, beta2], got {_show(value)}")
    return value


def _float(default: Any, description: str, **bounds: Any) -> Any:
    return Field(default, description=description, strict=True, allow_inf_nan=False, **bounds)


def _int(default: Any, description: str, **bounds: Any) -> Any:
    return Field(default, description=description, strict=True, **bounds)


Rate = Annotated[float, Field(strict=True, allow_inf_nan=False, ge=0, lt=1)]
Size = Annotated[int, Field(strict=True, ge=1)]
Scalar = Annotated[Union[StrictBool, StrictInt, StrictFloat, StrictStr],
                   BeforeValidator(_check_scalar)]
Name = Annotated[str, Field(strict=True), AfterValidator(_check_name)]
FilePath = Annotated[str, Field(strict=True), AfterValidator(_check_path)]


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid")


def _raise(model: str, problems: list[tuple[str, str, Any]]) -> None:
    """Raise the cross-field ``problems`` (key, message, input) at their own keys."""
    if problems:
        raise ValidationError.from_exception_data(model, [
            InitErrorDetails(type=_fail(message), loc=(key,), input=value)
            for key, message, value in problems])


def _unused(section: BaseModel, key: str, used: bool, hint: str) -> tuple[str, str, Any] | None:
    """A problem for ``key`` set to a non-default value where nothing uses it (never a silent no-op)."""
    value = getattr(section, key)
    if used or key not in section.model_fields_set or value == type(section).model_fields[key].default:
        return None
    return (key, f"{_show(value)} has no effect: {hint}", value)


def _shorthand(default_name: str, off: str | None = None) -> Any:
    """Accept ``name`` for ``{name: name}`` (Hydra's group choice) and, where ``off`` is given,
    false/null for ``{name: off}``; true for the defaults."""
    def expand(value: Any) -> Any:
        if isinstance(value, str):
            return {"name": value}
        if value is True:
            return {}
        if off is not None and value in (False, None):
            return {"name": off}
        return value
    return BeforeValidator(expand)


def _renamed(aliases: dict[str, str]) -> Any:
    """Read another tool's name for a section chosen by name (``adaptive``) as nncli's."""
    def rename(value: Any) -> Any:
        if isinstance(value, str):
            return aliases.get(value, value)
        if isinstance(value, dict) and isinstance(value.get("name"), str) and value["name"] in aliases:
            return {**value, "name": aliases[value["name"]]}
        return value
    return BeforeValidator(rename)


class _Choice(_Section):
    """A section one of several models validates, chosen by its name (an optimizer, a schedule)
    or kind (a layer): built when first used, so that a config builds only the ones it names."""

    model_config = ConfigDict(defer_build=True)


@dataclass(frozen=True)
class _OneOf:
    """Validates a value with the one model ``pick(value)`` returns, and shows ``union`` (every
    choice) in the JSON Schema.

    pydantic would build every member of a union when the section holding it is built; this
    validator hands the value to the chosen model alone, and the models are ``_Choice`` ones,
    built when first used: a config that names adam never builds the other eleven optimizers
    (measured: about a quarter of the time nncli's schema takes to build, at each start).
    Errors keep their locations (pydantic nests the chosen model's); the union is built only
    for a JSON Schema."""

    pick: Callable[[Any], type[BaseModel]]
    union: Any

    def __get_pydantic_core_schema__(self, source: Any, handler: Any) -> core_schema.CoreSchema:
        pick = self.pick
        # no serializer of its own: the chosen model's is found from the instance
        return core_schema.no_info_plain_validator_function(lambda value: pick(value).model_validate(value))

    def __get_pydantic_json_schema__(self, schema: Any, handler: Any) -> Any:
        return handler(TypeAdapter(self.union).core_schema)


@dataclass(frozen=True)
class ByName:
    """Marks a section whose keys depend on its ``name``: ``models[name]`` validates it."""

    models: dict
    default: str

    def model_for(self, value: Any) -> type[BaseModel] | None:
        name = value.get("name", self.default) if isinstance(value, dict) else self.default
        return self.models.get(name) if isinstance(name, str) else None


def _by_name(models: dict[str, type[_Choice]], default: str) -> Any:
    """One model per name, chosen by the section's ``name`` key (``default`` when absent); an
    unknown name is reported at ``name`` with the choices and a close match."""
    names = tuple(models)

    class UnknownName(_Choice):
        model_config = ConfigDict(extra="allow")
        name: _choice(names)

    def name_of(value: Any) -> Any:
        return value.get("name", default) if isinstance(value, dict) else getattr(value, "name", default)

    def model(value: Any) -> type[_Choice]:
        name = name_of(value)
        return models[name] if isinstance(name, str) and name in models else UnknownName

    def tag(value: Any) -> str:
        name = name_of(value)
        return f"_{name}" if isinstance(name, str) and name in models else "_unknown"

    _UNION_TAGS.update({f"_{n}" for n in names} | {"_unknown"})
    members = tuple(Annotated[m, Tag(f"_{n}")] for n, m in models.items())
    members += (Annotated[UnknownName, Tag("_unknown"), SkipJsonSchema()],)  # only for its error message
    union = Annotated[Union[members], Discriminator(tag)]
    return Annotated[union, _OneOf(model, union), ByName(models, default)]
