"""bsmount: mount an Illumina BaseSpace Sequence Hub account as a FUSE filesystem.

Layers (each knows only the ones before it): ``bsmount.api`` (the only code that speaks HTTP to
BaseSpace) → ``bsmount.controls`` (the control files' actions), ``bsmount.tree`` (the virtual
tree, its directory kinds and metadata cache) and ``bsmount.io`` (the read engine) →
``bsmount.fuse`` (the thin pyfuse3 adapter) → ``bsmount.mount`` / ``bsmount.auth`` /
``bsmount.cli``. ``bsmount.config`` holds settings and every default. ``bsmount.emulator`` is a
separate product: a local BaseSpace that imports none of the above.

``__version__`` is the one place the version lives (pyproject.toml reads it).
"""

__version__ = "0.1.0"
__all__ = ["__version__"]
