"""Model registry: a versioned, atomic, idempotent registry (registry.py and the modules it
rests on) and the RegistryPusher component that publishes blessed, infra-validated models
into it."""
