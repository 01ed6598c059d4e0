"""Serving runs to people: live runs in worker threads, compute slots shared by a server's kernels, autosaves,
and the dashboard's server process. Nothing here computes physics; it drives the model's runs
(:mod:`magwidgets.design`, :mod:`magwidgets.vmc`) on the shared :class:`~magwidgets.run.RunLoop`."""
