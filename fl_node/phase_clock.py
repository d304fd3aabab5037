"""Where a federation's seconds go: a phase clock and proxies that charge method calls to phases.

:class:`PhaseClock` keeps each phase's *self* time (time inside the phase minus time inside
phases nested in it), so the phases of a round add up to the round's wall time. A
:class:`Timed` proxy forwards every attribute to the object it wraps and runs the methods
named in its table under the clock, e.g. a participant's ``submit`` as "training" and its
scheme's ``encode`` (called inside ``submit``) as "encryption".
"""

from __future__ import annotations

import time
from collections import defaultdict
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from typing import Any


class PhaseClock:
    """Self seconds per phase name, with nesting; single-threaded use (calls run one at a time).

    ``nested[(parent, child)]`` is the part of ``child``'s self time spent directly inside ``parent``.
    """

    def __init__(self) -> None:
        self.seconds: dict[str, float] = defaultdict(float)
        self.calls: dict[str, int] = defaultdict(int)
        self.nested: dict[tuple[str, str], float] = defaultdict(float)
        self._stack: list[tuple[str, list[float]]] = []

    @contextmanager
    def phase(self, name: str) -> Iterator[None]:
        """Charge the time inside the block to ``name``, minus that of phases opened inside it."""
        frame = [0.0]
        self._stack.append((name, frame))
        start = time.perf_counter()
        try:
            yield
        finally:
            elapsed = time.perf_counter() - start
            self._stack.pop()
            self.seconds[name] += elapsed - frame[0]
            self.calls[name] += 1
            if self._stack:
                parent, parent_frame = self._stack[-1]
                parent_frame[0] += elapsed
                self.nested[(parent, name)] += elapsed - frame[0]

    def snapshot(self) -> dict[str, float]:
        """The seconds so far, by phase (a copy)."""
        return dict(self.seconds)


class Timed:
    """Forwards everything to ``target``; the methods in ``phases`` run under ``clock.phase(phases[name])``.

    Parameters
    ----------
    target : Any
    clock : PhaseClock
    phases : Mapping[str, str]
        Method name -> phase name.
    on_result : Callable[[str, Any], None] | None (default: None)
        Called with the method name and its result after each timed call (e.g. to keep receipts).
    """

    def __init__(
        self, target: Any, clock: PhaseClock, phases: Mapping[str, str], on_result: Callable[[str, Any], None] | None = None
    ) -> None:
        self._target = target
        self._clock = clock
        self._phases = dict(phases)
        self._on_result = on_result

    def __getattr__(self, name: str) -> Any:
        attribute = getattr(self._target, name)
        phase = self._phases.get(name)
        if phase is None or not callable(attribute):
            return attribute

        def timed(*args: Any, **kwargs: Any) -> Any:
            with self._clock.phase(phase):
                result = attribute(*args, **kwargs)
            if self._on_result is not None:
                self._on_result(name, result)
            return result

        return timed
