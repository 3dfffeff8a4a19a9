"""The local stack: the real handlers behind real HTTP, against an embedded moto server.

Not deployed. Everything it creates or routes is read from template.yaml (`local.template`).
"""
