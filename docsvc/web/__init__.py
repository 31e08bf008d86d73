"""The web pages for archivists, one blueprint per area (templates/<area>/). They share the HTTP layer
(docsvc.http) with the REST API; `docsvc.create_app` registers both."""
