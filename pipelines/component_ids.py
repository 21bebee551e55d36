"""The training pipeline's component ids, in pipeline order (the CLI, the run summary and
the tests look nodes up by them), and ``LOCAL``, the target ``create_components`` builds
for the local runner (the others: ``vertex``, ``kubeflow``)."""

LOCAL = "local"

EXAMPLE_GEN = "ExampleGen"
STATISTICS_GEN = "StatisticsGen"
SCHEMA_GEN = "SchemaGen"
SCHEMA_IMPORTER = "SchemaImporter"
EXAMPLE_VALIDATOR = "ExampleValidator"
VALIDATION_GATE = "ValidationGate"
SPAN_WINDOW = "SpanWindow"
TRANSFORM = "Transform"
HYPERPARAMETERS_GEN = "HyperparametersGen"
TUNER = "Tuner"
WARM_START_RESOLVER = "WarmStartResolver"  # model.warm_start: the Trainer's base_model
TRAINER = "Trainer"
BASELINE_RESOLVER = "BaselineResolver"
EVALUATOR = "Evaluator"
INFRA_VALIDATOR = "InfraValidator"
PUSHER = "Pusher"
