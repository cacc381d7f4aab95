"""Screens by name. A screen is a small function `(ctx, answer) -> Reply`:

- called with `answer=None` it shows itself: `Continue(text, next=<its own name>)`;
- called with the customer's answer it acts: moves on (`ctx.go(name)`), ends (`End(text)`)
  or asks again (`ctx.invalid(...)`: the engine shows the same screen with a short error).

Each screen declares the screens it may go to (`targets`); the engine refuses any other move
and a test walks the graph (every target exists, every screen is reachable from a root).
`flow` names the menu entry a screen belongs to when leaving it half-way is worth resuming
(paying, sending a reading, linking an account); "" for menus and read-only screens.
"""

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ussd.context import Ctx
    from ussd.replies import Reply

ROOTS = ("home", "resume")


@dataclass(frozen=True)
class Screen:
    name: str
    handle: "Callable[[Ctx, str | None], Reply]"
    targets: frozenset[str]
    flow: str


SCREENS: dict[str, Screen] = {}


class UndeclaredTarget(Exception):
    """A screen tried to go where it did not declare it goes."""


def screen(name: str, *, targets: tuple[str, ...] = (), flow: str = ""):
    def register(function):
        if name in SCREENS:
            raise ValueError(f"screen {name!r} is registered twice")
        SCREENS[name] = Screen(name, function, frozenset(targets), flow)
        return function

    return register
