"""GENERATED: classes compiled from the pydantic models by josev.lean.generator."""
