"""HyperparametersGen: the hyperparameters a Trainer trains with, from config or a small
search, written as the Tuner's HyperParameters artifact (issue 16, point 4)."""
