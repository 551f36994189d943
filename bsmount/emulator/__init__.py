"""The BaseSpace emulator: a faithful local BaseSpace Sequence Hub served over HTTP.

It is an independent product inside the bsmount distribution (``bsmount emulator``) and the backend
of every test and of ``make demo``. It imports nothing from the rest of bsmount.

Sub-packages, by concern (each lower one imports none of those above it, except
:mod:`.blobs.materialize`, which reads the state):

- :mod:`.control` — the control plane ``/_emulator/`` (:mod:`.control.routes`), the request log
  and fault injection (:mod:`.control.faults`, :mod:`.control.fault_actions`).
- :mod:`.oauth` — the OAuth device flow: its rules (:mod:`.oauth.device_flow`), API routes,
  approval page and control-plane switches.
- :mod:`.search` — ``GET v1pre3/search`` with a luqum-parsed query language.
- :mod:`.http` — the BaseSpace REST routes (``/v1pre3/...`` and ``/v2/...``): reads
  (:mod:`.http.v1`, :mod:`.http.v2`), writes (:mod:`.http.writes`), auth and errors
  (:mod:`.http.routing`, :mod:`.http.errors`), parameters and bodies, paging, and the JSON shapes
  of both versions (:mod:`.http.views`).
- :mod:`.seeds` — the JSON seed format and ``load_seed(spec, data_dir)`` (:mod:`.seeds.load`),
  and the built-in ``--seed demo`` (:mod:`.seeds.demo`).
- :mod:`.genomics` — the demo's real genomics files (FASTQ, BAM, VCF, run folder).
- :mod:`.state` — the in-memory account: entities (:mod:`.state.model`), tables, the access rules
  and writes of :class:`~.state.account.EmulatorState`, trash, properties, and the state's own
  exceptions (:mod:`.state.errors`; the HTTP layer translates them).
- :mod:`.blobs` — file content sources, signed content URLs, the S3-like blob route with HTTP
  Range, and writing the files to disk for an external blob server (benchmarks).

:mod:`.config` holds the settings and :mod:`.server` assembles the app and runs the process.
"""
