"""The points ledger: DESIGN §4 semantics applied exactly once, in any order.

``facts``, ``earning``, ``months``, ``rules`` and ``books`` are pure (no database, no
transport); ``intake`` maps wire events to facts; ``ledger`` is the
application service the worker runtime calls through the ``consumers.handler.Handler``
port; ``store`` persists it (one interface, driver-named implementations); ``expiry`` and
``verify`` back the ``points ledger`` jobs.
"""
