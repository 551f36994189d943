"""The pyfuse3 adapter, as one package; the only code besides the mount lifecycle
(:mod:`bsmount.mount`) that imports pyfuse3.

* :mod:`.operations` — :class:`Operations`, the FUSE request handlers, holding collaborators;
* :mod:`.requests` — the time bound and error edge every request passes through;
* :mod:`.errors` — the one map from domain exceptions to errnos;
* :mod:`.handles` — open file and directory handles, listings prepared for readdirplus;
* :mod:`.control_io` — control files and ``mkdir`` as FUSE operations;
* :mod:`.writes` — where files may be written, local entries over listings, commits;
* :mod:`.upload_io` — files being written as handles: writes, reads of the spool, close;
* :mod:`.dir_readahead` — small files of a directory fetched before a walker opens them;
* :mod:`.kernel` — telling the kernel to forget entries and inodes;
* :mod:`.kernel_readahead` — the mount's kernel read-ahead size.
"""
