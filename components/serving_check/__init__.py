"""The serving check (the InfraValidator component): loads a candidate model in a separate
process and checks it on real examples before any push."""
