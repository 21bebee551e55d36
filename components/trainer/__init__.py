"""Trainer: TFX's Trainer with per-run parameters (epochs, steps, learning rate)."""
