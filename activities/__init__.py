"""Every side effect of segflow: the store, the inbox, notices, orders and process starts."""
