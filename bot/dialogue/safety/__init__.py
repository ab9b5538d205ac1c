"""The safety check: emergency signs in any message, in any state, before anything else is decided."""
