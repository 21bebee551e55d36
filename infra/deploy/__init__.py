"""Running a config's training pipeline elsewhere than on this machine: compiled for
Kubeflow V2 or Vertex AI Pipelines (``compiler``), submitted to Vertex as a run or a
schedule (``submit``)."""
