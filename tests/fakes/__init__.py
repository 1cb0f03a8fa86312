"""Loopback fakes of the external services, speaking their real protocols to the real
client libraries: ``anthropic_server`` (the Messages API; its wire format in
``anthropic_wire``)."""
