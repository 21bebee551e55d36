"""``tfxkit ui``: a local dashboard over ML Metadata and the model registries of one or
more use cases (issue 21).

- ``sources.py``: the use cases the dashboard shows (configs), each with its MLMD store
  opened read-only and its registry;
- ``data.py``: plain functions that read what each page shows (runs, comparisons, lineage
  graphs, model versions, canary decisions, monitoring windows), testable without a server;
- ``svg.py``: the small plots (sparklines, bars, overlaid training curves) as inline SVG;
- ``app.py``: the FastAPI app (Jinja2 templates in ``templates/``, a little vanilla JS in
  ``static/``); writes (rollback, alias) only when started with ``--allow-writes``, through
  the registry functions ``tfxkit rollback`` / ``tfxkit models alias`` use.
"""
