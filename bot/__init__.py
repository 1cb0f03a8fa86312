"""Course assistant bot: the core service, its store and the chat adapters."""
