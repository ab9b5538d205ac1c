"""Deterministic extractors of the booking's facts; every engine validates through them."""
