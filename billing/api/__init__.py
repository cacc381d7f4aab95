"""The staff REST API of billing, one module per entity (each with its `urlpatterns`).

Every view serves one operation per HTTP method with nested Input/Output serializers; writes
call billing's services and their errors (ApplicationError subclasses) render as
{"code", "message", "extra"}. Money is always {"amount": "1234.50", "currency", "minor"}.
"""
