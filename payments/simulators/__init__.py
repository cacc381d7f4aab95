"""Local fakes of the mobile-money operators, shipped with the project.

Each simulator is a real HTTP server on loopback that speaks one operator's documented protocol
and can be scripted per push (succeed, fail, never call back, call back twice or late, pay a
different amount). Tests drive them; `python -m payments.simulators.<name> --port N` runs one
standalone. `base.SimulatorServer` holds what they share.
"""
