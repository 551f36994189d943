"""Building the emulator's account from a JSON seed document (:mod:`.load`), and the built-in
demo seed document (:mod:`.demo`)."""
