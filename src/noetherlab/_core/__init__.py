"""The bottom layer: infrastructure every other package uses, and nothing of the science.

* :mod:`~noetherlab._core.config` — float64 and the persistent compilation cache (applied first);
* :mod:`~noetherlab._core.errors` — the exception and warning types (``nl.errors``);
* :mod:`~noetherlab._core.status` — the one status vocabulary of every result;
* :mod:`~noetherlab._core.validation` — argument checks that name the argument and the fix;
* :mod:`~noetherlab._core.resources` — memory and run-time guards before a computation starts;
* :mod:`~noetherlab._core.interp` — resampling of discrete paths;
* :mod:`~noetherlab._core.exact` — row reduction and snapping to simple fractions;
* :mod:`~noetherlab._core.traced` — user functions as compiled structure plus data;
* :mod:`~noetherlab._core.io` — atomic saving with version and parameters (``nl.io``);
* :mod:`~noetherlab._core.figures` — one figure style and atomic figure files;
* :mod:`~noetherlab._core.version` — the installed version.

Modules here import only each other and third-party packages (checked by the import contracts in
``.importlinter``).
"""
