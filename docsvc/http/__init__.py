"""The HTTP layer the web pages and the REST API share."""
