"""Transform: TFX's component with tfxkit's executor for small data (see README.md)."""

# custom_config key: the most bytes of examples the executor analyses in process (no Beam)
MAX_BYTES_KEY = "in_process_max_bytes"
