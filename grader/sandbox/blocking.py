"""What a task forbids, enforced inside the worker before any student code runs.

``_BlockedFinder`` refuses the blocked modules at import; a blocked dlkit module that an
allowed one imports is a stub of placeholders that raise (:class:`StubModule`); a blocked
object of an allowed module is neutered in place and removed from every dlkit module
(:func:`block`).  The lists come from :class:`grader.sandbox.policy.Block`.
"""

from __future__ import annotations

import importlib
import importlib.abc
import sys
import types
from builtins import getattr, isinstance, setattr, type  # noqa: F401, UP029


class _BlockedFinder(importlib.abc.MetaPathFinder):
    """Refuses to import the blocked modules, with a message saying why."""

    def __init__(self, modules: list[str], reason: str):
        self.modules, self.reason = modules, reason

    def find_spec(self, fullname, path=None, target=None):
        for name in self.modules:
            if fullname == name or fullname.startswith(name + "."):
                raise ImportError(f"BLOCKED: {fullname} is not available here: {self.reason}",
                                  name=fullname)
        return None


def _placeholder(qualname: str, reason: str):
    """A stand-in for a blocked function or class: raises when called, names the reason."""

    def blocked(*args, **kwargs):
        raise ImportError(f"BLOCKED: {qualname} is not available here: {reason}",
                          name=qualname.rpartition(".")[0])

    blocked.__name__ = blocked.__qualname__ = qualname.rpartition(".")[2]
    # a function attribute, which mypy has no type for
    blocked._grader_blocked = qualname  # type: ignore[attr-defined]
    return blocked


class _StubModule(types.ModuleType):
    """Stands in for a blocked module while an allowed module imports from it: every name
    is a placeholder that raises when called (the real module never runs here)."""

    _grader_reason: str

    def __getattr__(self, name):
        if name.startswith("__"):
            raise AttributeError(name)
        value = _placeholder(f"{self.__name__}.{name}", self._grader_reason)
        setattr(self, name, value)
        return value


def _neuter(cls, qualname: str, reason: str) -> None:
    """Replace every method of a blocked class by a placeholder, in place: an instance
    reached through gc or ``object.__subclasses__()`` can do nothing."""
    for key, value in list(vars(cls).items()):
        if key == "__new__" or isinstance(value, staticmethod | classmethod | property) or \
                callable(value):
            setattr(cls, key, _placeholder(f"{qualname}.{key}", reason))
    cls.__new__ = staticmethod(_placeholder(qualname, reason))


def _is_dlkit(name: str) -> bool:
    return name == "dlkit" or name.startswith("dlkit.")


def _under(name: str, modules: list[str]) -> bool:
    return any(name == m or name.startswith(m + ".") for m in modules)


def block(block: dict) -> None:
    """Block modules and dlkit objects (``block``: :class:`grader.sandbox.policy.Block` as a dict).

    - ``modules`` (solutions, grader) and ``dlkit_modules``: refused by an import hook,
      removed from ``sys.modules`` and from their parent package.  A blocked dlkit module
      never runs here: while the modules of ``attrs`` are imported (now, before any student
      code), it is a stub of placeholders.
    - ``attrs`` ("module:name"): the object is neutered in place (its methods raise) and
      removed from every dlkit module; like every placeholder, a name that referred to it
      is replaced by a module ``__getattr__`` raising ImportError with the reason, so both
      ``from dlkit.layers import BatchNormalization`` and ``dlkit.layers.BatchNormalization``
      fail clearly, whether reached by an import statement, importlib, ``__import__`` or
      ``sys.modules``.
    """
    reason = block.get("reason", "")
    dlkit_modules = list(block.get("dlkit_modules", []))
    modules = list(block.get("modules", [])) + dlkit_modules
    for name in [n for n in sys.modules if _under(n, modules)]:
        del sys.modules[name]
    stubs = {}
    for name in dlkit_modules:
        stub = _StubModule(name)
        stub._grader_reason = reason
        stubs[name] = sys.modules[name] = stub
    blocked = {}
    try:
        for spec in block.get("attrs", []):
            mod_name, _, attr = spec.partition(":")
            try:
                obj = getattr(importlib.import_module(mod_name), attr)
            except (ImportError, AttributeError):
                continue  # this dlkit version does not have it: nothing to block
            qualname = f"{mod_name}.{attr}"
            if isinstance(obj, type):
                _neuter(obj, qualname, reason)
            blocked[id(obj)] = (obj, qualname)
    finally:
        for name, stub in stubs.items():
            if sys.modules.get(name) is stub:
                del sys.modules[name]
    for mod_name, module in list(sys.modules.items()):
        if not _is_dlkit(mod_name) or module is None:
            continue
        hidden = {}
        for key, value in list(vars(module).items()):
            if id(value) in blocked and blocked[id(value)][0] is value:
                hidden[key] = blocked[id(value)][1]
            elif getattr(value, "_grader_blocked", None) and callable(value):
                hidden[key] = value._grader_blocked
            elif type(value) in (type(sys), _StubModule) and _under(
                    getattr(value, "__name__", ""), modules):
                hidden[key] = value.__name__
        if hidden:
            for key in hidden:
                delattr(module, key)
            # a module-level __getattr__ (PEP 562), which typeshed declares as a method
            module.__getattr__ = _blocked_getattr(  # type: ignore[method-assign]
                mod_name, hidden, reason, getattr(module, "__getattr__", None))
    # Keep the neutered objects alive: otherwise whether object.__subclasses__() still lists
    # a neutered class depends on when the garbage collector runs; found, it says why it fails.
    _NEUTERED.extend(obj for obj, _ in blocked.values())
    sys.meta_path.insert(0, _BlockedFinder(modules, reason))


_NEUTERED: list = []


def _blocked_getattr(mod_name, hidden, reason, previous):
    def __getattr__(name):
        if name in hidden:
            raise ImportError(f"BLOCKED: {mod_name}.{name} is not available here: {reason}",
                              name=mod_name)
        if previous is not None:
            return previous(name)
        raise AttributeError(f"module {mod_name!r} has no attribute {name!r}")

    return __getattr__
