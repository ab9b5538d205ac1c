"""The HTTP server shared by the webhook channels, the site widget and the health check."""
