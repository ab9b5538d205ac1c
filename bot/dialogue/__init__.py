"""The conversation logic: pure, no I/O. Channels feed `Incoming`, get `Outgoing` and `Effect`s back."""
