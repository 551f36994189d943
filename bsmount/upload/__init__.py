"""The write engine: files written through the mount become BaseSpace files.

:mod:`.spool` keeps each written file's bytes on local disk (private to the mounting user);
:mod:`.transfer` turns one spooled file into a BaseSpace file — parts sent while the file is
still being written, one request for small files, the result checked against what was written;
:mod:`.manager` holds every upload of the mount, bounds what is in flight and reports on it.
Knows the API client, not pyfuse3 and not the tree (docs/writing.md has the semantics).
"""
