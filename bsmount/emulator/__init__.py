"""The BaseSpace emulator: a faithful local BaseSpace Sequence Hub served over HTTP.

It is an independent product inside the bsmount distribution (``bsmount emulator``) and the backend
of every test and of ``make demo``. It imports nothing from the rest of bsmount.

Modules:

- :mod:`.model` — the entities (users, projects, samples, appresults, runs, appsessions,
  biosamples, datasets, files, properties, genomes), id and date formats.
- :mod:`.state` — :class:`~.state.EmulatorState`, the in-memory account: lookups with access
  rules (404/403/410), listings, the writes the API offers, and ``reset()``.
- :mod:`.seed` — the JSON seed format (``docs/emulator.md``) and ``load_seed(spec, data_dir)``,
  built by :mod:`.seed_schema`, :mod:`.seed_build` and :mod:`.seed_entities`; :mod:`.demo` —
  the built-in ``--seed demo``; :mod:`.genomics` — the demo's genomics files.
- :mod:`.api_common`, :mod:`.views_v1`, :mod:`.views_v2`, :mod:`.api_v1`, :mod:`.api_v2` — the
  BaseSpace REST routes (``/v1pre3/...`` and ``/v2/...``): envelopes, paging, errors and auth.
- :mod:`.api_writes`, :mod:`.properties`, :mod:`.trash` — the write endpoints (properties,
  appsession stop, trash and restore, project creation) with the service's validation.
- :mod:`.oauth`, :mod:`.oauth_page` — the OAuth device flow, its approval page and switches.
- :mod:`.search` (with :mod:`.search_query`, :mod:`.search_match`, :mod:`.search_fields`,
  :mod:`.search_related`) — ``GET v1pre3/search`` with a luqum-parsed query language.
- :mod:`.content`, :mod:`.blobs`, :mod:`.config`, :mod:`.server` — content sources, signed blob
  URLs with HTTP Range, configuration and the server process; :mod:`.materialize` — writing the
  files to disk for an external blob server (benchmarks).
- :mod:`.requestlog`, :mod:`.faults`, :mod:`.fault_actions`, :mod:`.control` — the request log,
  fault injection and the control plane ``/_emulator/``.
"""
