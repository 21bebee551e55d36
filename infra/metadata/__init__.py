"""What ML Metadata says about a use case's runs and models, for people: a pushed model's
lineage (``lineage/``: ``tfxkit lineage``) and a run's report, one HTML page
(``report/``: ``tfxkit report``, and the end of ``tfxkit run``). Both read a store that
``pipelines/mlmd.py`` opens through the one MLMD reader, ``reader.py`` (the e2e tests'
helpers read with it too), and draw their graphs with ``graph_svg.py`` (the report first
marks runs whose process is gone: ``infra/run/state.py``)."""
