"""Roles beyond the built-in ones, registered by plugin modules a node imports at start (``--plugin MODULE``).

The test-support package registers its Byzantine roles here (``testkit.adversaries``); the runner looks names up
and never imports a plugin by name itself. A registered role takes the node's services and nothing else.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING

from node.config import BUILT_IN
from node.errors import ConfigError

if TYPE_CHECKING:
    from node.daemon import Role
    from node.roles.context import Services

__all__ = ["BUILT_IN", "RoleFactory", "load_plugins", "register_role", "registered_role"]

RoleFactory = Callable[["Services"], "Role"]

_factories: dict[str, RoleFactory] = {}


def register_role(name: str, factory: RoleFactory) -> None:
    if name in BUILT_IN:
        raise ValueError(f"{name!r} is a built-in role")
    _factories[name] = factory


def registered_role(name: str) -> RoleFactory:
    try:
        return _factories[name]
    except KeyError:
        known = ", ".join([*BUILT_IN, *sorted(_factories)])
        raise ConfigError(f"unknown role {name!r}: one of {known} (plugins add more with --plugin)") from None


def load_plugins(modules: Iterable[str]) -> None:
    """Imports each plugin module; importing it registers its roles."""
    for module in modules:
        try:
            importlib.import_module(module)
        except ImportError as err:
            raise ConfigError(f"plugin {module!r} cannot be imported: {err}") from err
