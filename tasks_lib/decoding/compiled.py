"""torch.compile of the decode engine's fused layer body: one compiled callable per backend for every engine of the
process, counting the graphs it builds.

Contract: `compile_layer(fn, backend)` returns `fn` under torch.compile with `backend` ("inductor", "aot_eager",
"eager"), static shapes; it raises one of COMPILE_ERRORS where torch.compile refuses (the engine then logs once and
runs uncompiled). `COMPILES[backend]` counts the graphs each backend has built in this process.
"""

from __future__ import annotations

from typing import Any, Callable

import torch

COMPILE_MODES = ("off", "inductor", "aot_eager", "eager")
# a failed compile or compiled call: the step's own errors, and no C++/Triton toolchain, a backend's own check
COMPILE_ERRORS = (RuntimeError, TypeError, ValueError, AttributeError, IndexError, OSError, ImportError, AssertionError)
RECOMPILE_LIMIT = 64  # dynamo's default (8) counts every decode shape; see `compile_layer`
COMPILES: dict[str, int] = {}  # graphs each torch.compile backend has built for the decode layer in this process
_BACKENDS: dict[str, Any] = {}


def counting_backend(name: str) -> Any:
    """The torch.compile backend `name`, counting the graphs it builds into `COMPILES`; one object per name, so every
    engine's compiled layer shares dynamo's cache (same guards, same kernels) instead of compiling its own."""
    if name not in _BACKENDS:
        inner = torch._dynamo.lookup_backend(name)

        def counting(gm: torch.fx.GraphModule, example_inputs: list) -> Any:
            COMPILES[name] = COMPILES.get(name, 0) + 1
            return inner(gm, example_inputs)

        _BACKENDS[name] = counting
    return _BACKENDS[name]


def compile_layer(fn: Callable[..., torch.Tensor], backend: str) -> Callable[..., torch.Tensor]:
    """`fn` (the layer's modules are its arguments, so they are graph inputs, not constants) under torch.compile."""
    # Shapes are static: each (rows, prefix length, window) is its own graph, and the window grows by the engine's
    # WINDOW_BUCKET up to the capacity, so one run meets tens of shapes. Past dynamo's limit (8 by default) the layer
    # would silently run uncompiled; the raised limit keeps those shapes compiled.
    torch._dynamo.config.recompile_limit = max(torch._dynamo.config.recompile_limit, RECOMPILE_LIMIT)
    return torch.compile(fn, backend=counting_backend(backend), dynamic=False, fullgraph=False)
