"""File bytes in the emulator: content sources (:mod:`.content`), uploaded bodies on disk
(:mod:`.spool`), signed content URLs (:mod:`.signing`), the S3-like blob route (:mod:`.route`)
and writing every file to disk for an external web server (:mod:`.materialize`)."""
