"""A small stand-in for the central mixing provider (SAFE): a real HTTP server for the demo and tests.

``carnet-mixing-sim --port P --secret-file F --callback-url URL --record FILE --step-seconds X``
(see :mod:`carnet_mixing_sim.server`). Standard library only.
"""
