"""The emulator's Search API (``GET v1pre3/search``): the route (:mod:`.routes`), the query
language (:mod:`.query`, :mod:`.match`), the fields of each scope (:mod:`.fields`) and the
relations followed from a searched entity (:mod:`.related`)."""
