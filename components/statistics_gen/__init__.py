"""StatisticsGen: TFX's component with tfxkit's executor on the in-memory runner (README.md)."""

# an executor flag (the executor spec's extra_flags): the most bytes of examples computed
# in process (no Beam pipeline)
MAX_BYTES_FLAG = "--tfxkit_in_process_max_bytes"
