"""bsmount: mount an Illumina BaseSpace Sequence Hub account as a FUSE filesystem.

Layers (each knows only the ones before it): ``bsmount.api`` (the only code that speaks HTTP to
BaseSpace) → ``bsmount.tree`` and ``bsmount.io`` (the virtual tree, metadata cache and read engine)
→ ``bsmount.fs`` (the thin pyfuse3 adapter) → ``bsmount.mount`` / ``bsmount.cli``.
``bsmount.emulator`` is a separate product: a local BaseSpace that imports none of the above.
"""

__version__ = "0.1.0"
__all__ = ["__version__"]
