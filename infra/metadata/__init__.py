"""What ML Metadata says about a use case's runs and models, for people: a pushed model's
lineage (``lineage``: ``tfxkit lineage``) and a run's report, one HTML page
(``report``: ``tfxkit report``, and the end of ``tfxkit run``). They read a store that
``pipelines/mlmd.py`` opens (the report first marks runs whose process is gone:
``infra/run/state.py``)."""
