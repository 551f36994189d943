"""Running a mount: ``bsmount mount|unmount|status`` (:mod:`.cli`), the process that serves it
(:mod:`.lifecycle`: wires the client, tree, read engine, controls and the FUSE adapter; signals;
clean unmount), and what keeps that process healthy: GC at idle moments (:mod:`.gcpolicy`), the
event-loop stall watch (:mod:`.loopwatch`) and glibc malloc thresholds (:mod:`.malloc_tuning`).
"""
