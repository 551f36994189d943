"""The emulator's control plane (``/_emulator/``, :mod:`.routes`), the request log
(:mod:`.requestlog`) and fault injection (:mod:`.faults`, :mod:`.fault_actions`)."""
