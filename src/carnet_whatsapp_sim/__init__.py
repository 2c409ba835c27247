"""A small stand-in for the WhatsApp Business Cloud API: a real HTTP server for the demo and tests.

``carnet-whatsapp-sim serve --port P --webhook-url URL`` plays Meta's side: it signs and sends the
webhooks of messages "written" by a phone number and records the bot's outbound messages;
``carnet-whatsapp-sim write --sim URL --from DIGITS "hola"`` writes as that phone and prints the replies.
:mod:`carnet_whatsapp_sim.cloudapi` holds the wire formats, :mod:`carnet_whatsapp_sim.simulator` the
state, :mod:`carnet_whatsapp_sim.server` the HTTP API (its docstring lists every endpoint),
:mod:`carnet_whatsapp_sim.cli` the command. Standard library only.
"""
