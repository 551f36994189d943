"""Logging in and handling configs: the OAuth 2 device flow (:mod:`.device_flow`) and the
``bsmount auth|whoami|config`` commands (:mod:`.cli`)."""
