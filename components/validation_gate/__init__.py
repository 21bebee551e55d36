"""ValidationGate: makes ExampleValidator's anomalies stop the run (or warn)."""
