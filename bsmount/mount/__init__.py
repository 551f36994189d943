"""Running a mount: ``bsmount mount|unmount`` (:mod:`.cli`), ``bsmount status`` (:mod:`.status`:
the mounts and what each has in flight, from its ``.bsmount/stats``), mount options in ``-o``
form (:mod:`.options`), mount(8)'s helper ``mount.fuse.bsmount`` for fstab (:mod:`.helper`), the
process that serves a mount (:mod:`.lifecycle`: wires the client, tree, read engine, controls and
the FUSE adapter; signals; clean unmount; systemd readiness through :mod:`.sdnotify`), and what
keeps that process healthy: GC at idle moments (:mod:`.gcpolicy`), the event-loop stall watch
(:mod:`.loopwatch`) and glibc malloc thresholds (:mod:`.malloc_tuning`).
"""
