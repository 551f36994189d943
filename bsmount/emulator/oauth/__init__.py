"""The OAuth 2 device flow of the emulator: its rules (:mod:`.device_flow`), API routes
(:mod:`.routes`), approval page (:mod:`.page`) and control-plane switches (:mod:`.control`)."""
