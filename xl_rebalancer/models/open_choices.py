"""Settings whose choices installed packages may add to: `strategy` and `price_source`.

The field keeps its Literal of built-in names (the template's dropdown, the docs and
every message list them as before); a name outside it is accepted when an installed
plugin gives it (xl_rebalancer.plugins), else refused with the built-in and installed
names together, on the cell that holds it.
"""

from __future__ import annotations

from typing import Any, get_args

from pydantic import ValidationError, ValidatorFunctionWrapHandler, WrapValidator
from pydantic_core import PydanticCustomError


def or_plugin(kind: str, built_in: Any) -> WrapValidator:
    """A validator for Annotated[Literal[...], or_plugin(...), BeforeValidator(to_token)]
    (to_token first, so messages quote the name as read): the built-in names as the
    Literal checks them, or a plugin's of `kind`."""
    known = tuple(str(name) for name in get_args(built_in))

    def check(value: Any, handler: ValidatorFunctionWrapHandler) -> Any:
        # Imported here: the installed packages are looked at only when a workbook
        # names a strategy or price source, never when the models load.
        from .. import plugins

        try:
            token = handler(value)
        except ValidationError:
            token = value
            if not isinstance(token, str) or not token or token not in plugins.names(kind):
                expected = [repr(name) for name in (*known, *plugins.names(kind))]
                raise PydanticCustomError(
                    "literal_error",
                    "Input should be {expected}",
                    {"expected": ", ".join(expected[:-1]) + " or " + expected[-1]},
                ) from None
            try:
                plugins.load(kind, token)
            except plugins.PluginError as exc:
                raise ValueError(str(exc)) from None
            return token
        try:
            plugins.refuse_shadow(kind, token)
        except plugins.PluginError as exc:
            raise ValueError(str(exc)) from None
        return token

    return WrapValidator(check)
