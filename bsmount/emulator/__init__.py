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
- :mod:`.content`, :mod:`.blobs`, :mod:`.config`, :mod:`.server` — content sources, signed blob
  URLs with HTTP Range, configuration, the control plane ``/_emulator/`` and the server process.
"""
