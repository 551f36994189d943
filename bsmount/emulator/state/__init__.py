"""The emulator's in-memory account, free of HTTP: entities, tables, access rules and writes,
trash, properties, and the exceptions the account raises when it refuses (:mod:`.errors`)."""
