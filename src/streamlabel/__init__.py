"""streamlabel: streaming programmatic relabeling for drifting domains.

The package is split into parts that mirror the design (see ``docs/architecture.md``):

- :mod:`streamlabel.lf` -- labeling functions, declarative specs, LF sets, the applier;
- :mod:`streamlabel.labelmodel` -- majority vote and the online label model;
- :mod:`streamlabel.analysis` -- running LF diagnostics;
- :mod:`streamlabel.datasets` -- WRENCH loader, seeded synthetic vote streams, drifting
  event streams with ground truth and their LF sets;
- :mod:`streamlabel.bench` -- benchmarks behind ``streamlabel bench``.

Importing the package has no side effects; it only exposes the version.
"""

__all__ = ["__version__"]

__version__ = "0.1.0"
