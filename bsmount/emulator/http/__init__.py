"""The emulator's BaseSpace REST API (``/v1pre3/...`` and ``/v2/...``): routes, their shared
machinery (auth, errors, parameters, bodies, paging, envelopes) and the JSON shapes in
:mod:`.views`. The state's refusals become error answers in :func:`.errors.problem_for` only."""
