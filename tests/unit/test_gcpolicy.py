"""IdleCollector (bsmount.mount.gcpolicy): full collections leave the automatic schedule and run
when the filesystem is idle, or when overdue; thresholds are restored; pauses are measured."""

from __future__ import annotations

import gc

import trio

from bsmount.mount.gcpolicy import IdleCollector


class Cycle:
    def __init__(self) -> None:
        self.me = self


def promote_young() -> None:
    """Make generation-1 collections happen (the count full collections wait for)."""
    for _ in range(12):
        for _ in range(800):
            Cycle()
        gc.collect(1)


def test_install_takes_full_collections_off_the_schedule_and_uninstall_restores() -> None:
    before = gc.get_threshold()
    collector = IdleCollector(lambda: 0.0)
    collector.install()
    try:
        assert gc.get_threshold()[:2] == before[:2]
        assert gc.get_threshold()[2] > 10**8
        assert collector._measure in gc.callbacks
    finally:
        collector.uninstall()
    assert gc.get_threshold() == before
    assert collector._measure not in gc.callbacks


def test_collects_when_idle_not_while_busy() -> None:
    idle = [0.0]
    collector = IdleCollector(lambda: idle[0], idle_after=0.5, max_interval=3600)
    collector.install()
    try:
        gc.collect()
        promote_young()
        assert gc.get_count()[2] >= collector.min_young
        assert collector.maybe_collect() is None  # a request is in flight
        idle[0] = 0.2
        assert collector.maybe_collect() is None  # not idle long enough
        idle[0] = 0.6
        assert collector.maybe_collect() == "idle"
        assert gc.get_count()[2] == 0 and collector.full_idle == 1
        assert collector.maybe_collect() is None  # nothing pending since
        assert collector.statistics()["longest_scheduled_pause_ms"] >= 0.0
    finally:
        collector.uninstall()


def test_overdue_collection_runs_under_endless_load() -> None:
    collector = IdleCollector(lambda: 0.0, max_interval=0.0)
    collector.install()
    try:
        promote_young()
        assert collector.maybe_collect() == "forced"
        assert collector.full_forced == 1
    finally:
        collector.uninstall()


def test_young_pauses_are_measured() -> None:
    collector = IdleCollector(lambda: 0.0)
    collector.install()
    try:
        promote_young()
        assert collector.longest_ms[1] > 0.0
    finally:
        collector.uninstall()


async def test_run_uninstalls_when_cancelled() -> None:
    before = gc.get_threshold()
    collector = IdleCollector(lambda: 10.0, check_every=0.01)
    with trio.move_on_after(0.1):
        await collector.run()
    assert gc.get_threshold() == before


def test_idle_collections_are_spaced_by_their_own_cost() -> None:
    collector = IdleCollector(lambda: 10.0, spacing=1e9, max_interval=3600)
    collector.install()
    try:
        promote_young()
        assert collector.maybe_collect() == "idle"
        promote_young()
        # the last one took > 0 s; a billion times that has not passed yet
        assert collector.maybe_collect() is None
        collector.spacing = 0.0
        assert collector.maybe_collect() == "idle"
    finally:
        collector.uninstall()
