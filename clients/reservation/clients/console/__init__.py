"""`reservation console`: a small web page for operators running a flash sale.

A Starlette app (app.py) that talks to the service over gRPC with the operator's token
(client.py), renders HTML with Jinja2 (templates/), and refreshes its live part every
second with a plain fetch(): no JavaScript framework. Every action is an AdminService or
GuardService call, so it lands in the service's operator-action log under the name the
operator logged in with.
"""
