"""JSON shapes of the emulator's entities: v1pre3 (:mod:`.v1`), v2 (:mod:`.v2`), the compact
form of each entity type in both (:mod:`.compact`) and trash items (:mod:`.trash`)."""
