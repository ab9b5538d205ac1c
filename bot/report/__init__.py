"""The owner's report: figures from the lead sink, as a text table and a PNG."""
