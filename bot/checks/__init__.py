"""`python -m bot check`: one check per item of the configuration and per configured service."""
